/**
 * Refreshing: one `POST /api/token/refresh` at a time however many callers wait (single
 * flight), spending the stored refresh token and keeping the pair it gives in its place.
 */

import type { Disabled } from "./disabled.js";
import { WxLoginError } from "./errors.js";
import type { RefreshResponse } from "./schemas.js";
import type { TokenStore } from "./token-store.js";
import type { Send } from "./transport.js";

/**
 * Refreshes now, or joins the refresh under way. Resolves with the new access token, or with
 * `null` when the server refused to refresh (the session ended, the refresh token is unknown,
 * spent long ago, or malformed; or there is none to send): the tokens are then dropped, and
 * only a login gives new ones. Rejects, keeping the tokens, when no answer came (`network_error`)
 * or the server could not answer (`unavailable`, other 5xx, 429): sending the same refresh token
 * again later is safe, the server answers a just-spent one with the current pair. Rejects with
 * `account_disabled` (a banned account), the tokens removed: no login can help.
 */
export type Refresh = () => Promise<string | null>;

/** Refreshes the tokens in `store` through `send`; `disabled` sees its refusals first. */
export function createRefresh(send: Send, store: TokenStore, disabled: Disabled): Refresh {
  let inflight: Promise<string | null> | null = null;

  async function doRefresh(): Promise<string | null> {
    const s = store.refreshable();
    if (s === null) {
      return null;
    }
    const res = await send("POST", "/api/token/refresh", { refreshToken: s.refreshToken }, {}, null);
    if (res.statusCode === 200) {
      const body = res.data as RefreshResponse;
      if (
        typeof body?.token !== "string" ||
        typeof body.expiresIn !== "number" ||
        typeof body.refreshToken !== "string" ||
        typeof body.refreshExpiresIn !== "number"
      ) {
        throw new WxLoginError("bad_response", "the refresh answer has no tokens", 200, res.data);
      }
      // Not kept when the tokens changed meanwhile (a logout, another login): this token then
      // serves only the requests that waited for it.
      store.saveRefreshed(s.refreshToken, body);
      return body.token;
    }
    // `account_disabled` (403) removes the tokens and rejects: final, no login after it.
    const error = disabled.errorOf(res);
    if (error.error === "account_disabled") {
      throw error;
    }
    // 401 (`refresh_token_invalid`, `refresh_token_reused`, `session_revoked`, `token_expired`)
    // and 400 (a refresh token the server cannot read) are final for this refresh token:
    // sending it again could only get the same answer.
    if (res.statusCode === 401 || res.statusCode === 400) {
      store.forget(s.token);
      return null;
    }
    throw error;
  }

  return function refresh(): Promise<string | null> {
    if (inflight !== null) {
      return inflight;
    }
    const flight = doRefresh().finally(() => {
      inflight = null;
    });
    inflight = flight;
    return flight;
  };
}
