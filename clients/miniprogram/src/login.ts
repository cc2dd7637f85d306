/**
 * Logging in: one `wx.login` and one `POST /api/login` at a time however many callers wait
 * (single flight), the tokens kept in the store; and what a `401` that ended a token says.
 */

import type { Disabled } from "./disabled.js";
import { WxLoginError } from "./errors.js";
import type { ErrorBody, LoginResponse } from "./schemas.js";
import type { TokenStore } from "./token-store.js";
import type { Send } from "./transport.js";
import type { WxResponse } from "./wx-like.js";

const SESSION_ENDED: readonly string[] = ["token_expired", "session_revoked", "token_invalid"];

/** The `error` kind of an answer, when it has wxlogin's error body. */
export function errorKind(res: WxResponse): string | undefined {
  const kind = (res.data as Partial<ErrorBody> | null)?.error;
  return typeof kind === "string" ? kind : undefined;
}

/** Whether the server answered that the token sent is no longer good (expired, revoked, invalid). */
export function sessionEnded(res: WxResponse): boolean {
  const kind = errorKind(res);
  return res.statusCode === 401 && kind !== undefined && SESSION_ENDED.includes(kind);
}

/** Logs in now, or joins the login under way. */
export type Login = () => Promise<LoginResponse>;

/**
 * Logs in with codes from `wxCode`, sent with `appid` when given, keeping the tokens in `store`;
 * a refusal goes through `disabled` (which ends everything on `account_disabled`).
 */
export function createLogin(
  appid: string | undefined,
  wxCode: () => Promise<string>,
  send: Send,
  store: TokenStore,
  disabled: Disabled,
): Login {
  let inflight: Promise<LoginResponse> | null = null;

  async function doLogin(): Promise<LoginResponse> {
    for (let attempt = 0; ; attempt++) {
      const code = await wxCode();
      const res = await send("POST", "/api/login", appid ? { code, appid } : { code }, {}, null);
      if (res.statusCode === 200) {
        const body = res.data as LoginResponse;
        if (typeof body?.token !== "string" || typeof body.expiresIn !== "number") {
          throw new WxLoginError("bad_response", "the login answer has no token", 200, res.data);
        }
        // A server before refresh tokens answers without them: the token is then used until
        // it expires, and the client logs in again.
        store.save(body);
        return body;
      }
      // `account_disabled` removes the tokens: final, never retried.
      const error = disabled.errorOf(res);
      // A code WeChat refused (used, expired): one fresh code, then give up.
      if (error.error === "invalid_code" && attempt === 0) {
        continue;
      }
      throw error;
    }
  }

  return function login(): Promise<LoginResponse> {
    if (inflight !== null) {
      return inflight;
    }
    const flight = doLogin().finally(() => {
      inflight = null;
    });
    inflight = flight;
    return flight;
  };
}
