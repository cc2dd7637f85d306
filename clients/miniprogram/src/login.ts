/**
 * Logging in: one `wx.login` and one `POST /api/login` at a time however many callers wait
 * (single flight), and the token a request is to carry — the stored one while it lives, a
 * login's otherwise, and after a `401` that ended a session, a newer one.
 */

import { errorOf, WxLoginError } from "./errors.js";
import type { ErrorBody, LoginResponse } from "./schemas.js";
import type { TokenStore } from "./token-store.js";
import type { Send } from "./transport.js";
import type { WxResponse } from "./wx-like.js";

const SESSION_ENDED: readonly string[] = ["token_expired", "session_revoked", "token_invalid"];

/** Whether the server answered that the session the token was for is gone. */
export function sessionEnded(res: WxResponse): boolean {
  const kind = (res.data as Partial<ErrorBody> | null)?.error;
  return res.statusCode === 401 && typeof kind === "string" && SESSION_ENDED.includes(kind);
}

/** Logging in, shared by all callers meanwhile. */
export interface Login {
  /** Logs in now, or joins the login under way. */
  login(): Promise<LoginResponse>;
  /** The live stored token, or a login's. */
  tokenOrLogin(): Promise<string>;
  /** After a 401 that ended `used`: the token of a login since, or of a new one. */
  tokenAfter(used: string): Promise<string>;
}

/** Logs in with codes from `wxCode`, sent with `appid` when given, keeping the token in `store`. */
export function createLogin(
  appid: string | undefined,
  wxCode: () => Promise<string>,
  send: Send,
  store: TokenStore,
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
        store.save(body.token, body.expiresIn);
        return body;
      }
      const error = errorOf(res);
      // A code WeChat refused (used, expired): one fresh code, then give up.
      if (error.error === "invalid_code" && attempt === 0) {
        continue;
      }
      throw error;
    }
  }

  function login(): Promise<LoginResponse> {
    if (inflight !== null) {
      return inflight;
    }
    const flight = doLogin().finally(() => {
      inflight = null;
    });
    inflight = flight;
    return flight;
  }

  async function tokenOrLogin(): Promise<string> {
    return store.liveToken() ?? (await login()).token;
  }

  async function tokenAfter(used: string): Promise<string> {
    const current = store.liveToken();
    if (current !== null && current !== used) {
      return current;
    }
    store.forget(used);
    return (await login()).token;
  }

  return { login, tokenOrLogin, tokenAfter };
}
