/**
 * The request wrapper: sends with the token (logging in first when there is none), and when
 * the server says the session is gone, gets a newer token and replays the request once.
 */

import { errorOf } from "./errors.js";
import { sessionEnded } from "./login.js";
import type { Login } from "./login.js";
import type { TokenStore } from "./token-store.js";
import type { RequestOptions, Send } from "./transport.js";
import type { WxResponse } from "./wx-like.js";

/** Sends a request with the token; rejects with the error of any answer of 400 or more. */
export type Request = <T>(opts: RequestOptions) => Promise<WxResponse & { data: T }>;

/** A {@link Request} that sends with `send` and logs in with `session`. */
export function createRequest(send: Send, session: Login, store: TokenStore): Request {
  return async function request<T>(opts: RequestOptions): Promise<WxResponse & { data: T }> {
    const method = opts.method ?? "GET";
    const header = opts.header ?? {};
    let token = await session.tokenOrLogin();
    let res = await send(method, opts.url, opts.data, header, token);
    if (sessionEnded(res)) {
      token = await session.tokenAfter(token);
      res = await send(method, opts.url, opts.data, header, token);
      if (sessionEnded(res)) {
        // Refused again right after a fresh login: not something another login would fix.
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
