/**
 * The request wrapper: sends with the token (refreshed or logged in first when needed), and
 * when the server says the token is no longer good, gets a newer one and replays the request
 * once. The same for a request through `wx.request` and an upload through `wx.uploadFile`.
 */

import type { Disabled } from "./disabled.js";
import { sessionEnded } from "./login.js";
import type { Session } from "./session.js";
import type { TokenStore } from "./token-store.js";
import type { RequestOptions, Send } from "./transport.js";
import type { WxResponse } from "./wx-like.js";

/** One exchange with the server, carrying `token`: sent once per call, never retried. */
export type Exchange = (token: string) => Promise<WxResponse>;

/**
 * Makes `exchange` with the token, and once more with a newer one when the server refuses
 * it; rejects with the error of any answer of 400 or more.
 */
export type Authorized = (exchange: Exchange) => Promise<WxResponse>;

/** Sends a request with the token; rejects with the error of any answer of 400 or more. */
export type Request = <T>(opts: RequestOptions) => Promise<WxResponse & { data: T }>;

/**
 * An {@link Authorized} that gets its tokens from `session`, its errors from `disabled` (an
 * `account_disabled` answer removes the tokens).
 */
export function createAuthorized(session: Session, store: TokenStore, disabled: Disabled): Authorized {
  return async function authorized(exchange: Exchange): Promise<WxResponse> {
    // At most one refresh for the whole request, and the request sent at most twice.
    const attempt = session.begin();
    let token = await session.tokenFor(attempt);
    let res = await exchange(token);
    if (sessionEnded(res)) {
      token = await session.tokenAfter(token, res, attempt);
      res = await exchange(token);
      if (sessionEnded(res)) {
        // Refused again right after a renewal: not something another one would fix.
        store.forget(token);
        throw disabled.errorOf(res);
      }
    }
    if (res.statusCode >= 400) {
      throw disabled.errorOf(res);
    }
    return res;
  };
}

/** A {@link Request} that sends with `send`, with the tokens of `authorized`. */
export function createRequest(send: Send, authorized: Authorized): Request {
  return async function request<T>(opts: RequestOptions): Promise<WxResponse & { data: T }> {
    const method = opts.method ?? "GET";
    const header = opts.header ?? {};
    const res = await authorized((token) => send(method, opts.url, opts.data, header, token));
    return res as WxResponse & { data: T };
  };
}
