/**
 * The request wrapper: sends with the token (refreshed or logged in first when needed), and
 * when the server says the token is no longer good, gets a newer one and replays the request
 * once.
 */

import { errorOf } from "./errors.js";
import { sessionEnded } from "./login.js";
import type { Session } from "./session.js";
import type { TokenStore } from "./token-store.js";
import type { RequestOptions, Send } from "./transport.js";
import type { WxResponse } from "./wx-like.js";

/** Sends a request with the token; rejects with the error of any answer of 400 or more. */
export type Request = <T>(opts: RequestOptions) => Promise<WxResponse & { data: T }>;

/** A {@link Request} that sends with `send` and gets its tokens from `session`. */
export function createRequest(send: Send, session: Session, store: TokenStore): Request {
  return async function request<T>(opts: RequestOptions): Promise<WxResponse & { data: T }> {
    const method = opts.method ?? "GET";
    const header = opts.header ?? {};
    // At most one refresh for the whole request, and the request sent at most twice.
    const attempt = { refreshed: false };
    let token = await session.tokenFor(attempt);
    let res = await send(method, opts.url, opts.data, header, token);
    if (sessionEnded(res)) {
      token = await session.tokenAfter(token, res, attempt);
      res = await send(method, opts.url, opts.data, header, token);
      if (sessionEnded(res)) {
        // Refused again right after a renewal: not something another one would fix.
        store.forget(token);
        throw errorOf(res);
      }
    }
    if (res.statusCode >= 400) {
      throw errorOf(res);
    }
    return res as WxResponse & { data: T };
  };
}
