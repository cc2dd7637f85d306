/**
 * Why a call failed: {@link WxLoginError}, its kinds, and the error an answer of the server
 * carries.
 */

import type { ErrorBody, ServerErrorKind } from "./schemas.js";
import type { WxResponse } from "./wx-like.js";

/**
 * The kinds the client raises itself: `network_error` (the request never got an answer),
 * `login_failed` (`wx.login` gave no code), `bad_response` (an answer that is not the
 * server's), `session_key_stale` (user data obtained under a WeChat session that had expired:
 * get it again and resend), `invalid_url` (a URL outside `baseURL`, which would carry the
 * token elsewhere).
 */
export type ClientErrorKind =
  | "network_error"
  | "login_failed"
  | "bad_response"
  | "session_key_stale"
  | "invalid_url";
/** Every kind a {@link WxLoginError} can have, for a page to branch on. */
export type ErrorKind = ServerErrorKind | ClientErrorKind;

/** Why a call failed: the server's `error` kind and `msg`, or one of the client's own. */
export class WxLoginError extends Error {
  /** What went wrong, to branch on (`risky_user`, `rate_limited`, `network_error`, ...). */
  readonly error: ErrorKind;
  /** What went wrong, for people. */
  readonly msg: string;
  /** The HTTP status, when the server answered. */
  readonly statusCode: number | undefined;
  /** The answer's body, when the server answered. */
  readonly data: unknown;

  constructor(error: ErrorKind, msg: string, statusCode?: number, data?: unknown) {
    super(`${error}: ${msg}`);
    this.name = "WxLoginError";
    this.error = error;
    this.msg = msg;
    this.statusCode = statusCode;
    this.data = data;
  }
}

/** Whether `e` is a {@link WxLoginError} (of `kind`, when given). */
export function isWxLoginError(e: unknown, kind?: ErrorKind): e is WxLoginError {
  return e instanceof WxLoginError && (kind === undefined || e.error === kind);
}

/** The error of an answer: the server's error body, or `bad_response` when it has none. */
export function errorOf(res: WxResponse): WxLoginError {
  const body = res.data as Partial<ErrorBody> | null;
  if (body && typeof body.error === "string" && typeof body.msg === "string") {
    return new WxLoginError(body.error as ErrorKind, body.msg, res.statusCode, res.data);
  }
  return new WxLoginError(
    "bad_response",
    `HTTP ${res.statusCode} without wxlogin's error body`,
    res.statusCode,
    res.data,
  );
}
