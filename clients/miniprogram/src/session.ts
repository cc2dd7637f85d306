/**
 * Which token a request is to carry: the stored access token while it is fresh; a refreshed
 * one when it is due (shortly before it expires) or when the server answered `token_expired`;
 * a login's when there is no token, when refreshing is refused, or when the session was
 * revoked. Refreshes and logins are each single flight, so waiting requests share them. None
 * after an `account_disabled` that came while the request was under way.
 */

import type { Disabled } from "./disabled.js";
import { isWxLoginError } from "./errors.js";
import { errorKind } from "./login.js";
import type { Login } from "./login.js";
import type { Refresh } from "./refresh.js";
import type { TokenStore } from "./token-store.js";
import type { WxResponse } from "./wx-like.js";

/** What one request (or account call) has already spent, so that it never loops. */
export interface Attempt {
  /** A refresh was made (or joined) for it: it gets no second one. */
  refreshed: boolean;
  /**
   * When it started ({@link Disabled.mark}): an `account_disabled` seen since then ends it,
   * with no login and no refresh.
   */
  since: number;
}

/** The tokens requests are sent with. */
export interface Session {
  /** A new request's (or account call's) {@link Attempt}: nothing spent yet. */
  begin(): Attempt;
  /** The token to send first: the fresh stored one, a refreshed one, or a login's. */
  tokenFor(attempt: Attempt): Promise<string>;
  /**
   * After `res`, a 401 that refused `used`: the token a renewal since gave, or a refreshed
   * one (`token_expired`, once per attempt), or a login's.
   */
  tokenAfter(used: string, res: WxResponse, attempt: Attempt): Promise<string>;
  /**
   * The stored access token, refreshed when due, but never a login's (which would call
   * `wx.login`): `null` when only a login would give one.
   */
  tokenWithoutLogin(): Promise<string | null>;
}

/**
 * Tokens from `store`, renewed by `refresh` and, when that is refused, by `login`; neither for
 * an attempt that `disabled` has ended.
 */
export function createSession(
  login: Login,
  refresh: Refresh,
  store: TokenStore,
  disabled: Disabled,
): Session {
  function begin(): Attempt {
    return { refreshed: false, since: disabled.mark() };
  }

  /** A login's token, unless `account_disabled` came since the attempt started. */
  async function loginFor(attempt: Attempt): Promise<string> {
    disabled.check(attempt.since);
    return (await login()).token;
  }

  /** The stored token when it needs no refresh yet. */
  function fresh(): string | null {
    const s = store.stored();
    return s !== null && store.liveToken() === s.token && !store.dueForRefresh(s) ? s.token : null;
  }

  async function refreshedOrLogin(attempt: Attempt): Promise<string> {
    disabled.check(attempt.since);
    attempt.refreshed = true;
    return (await refresh()) ?? (await loginFor(attempt));
  }

  async function tokenFor(attempt: Attempt): Promise<string> {
    const ready = fresh();
    if (ready !== null) {
      return ready;
    }
    if (store.refreshable() !== null && !attempt.refreshed) {
      try {
        return await refreshedOrLogin(attempt);
      } catch (e) {
        // A banned account: the tokens are gone, and nothing is sent.
        if (isWxLoginError(e, "account_disabled")) {
          throw e;
        }
        // The refresh got no answer (or 503) before the token expired: the token still
        // lives, so the request goes with it; the next one tries the refresh again.
        const live = store.liveToken();
        if (live !== null) {
          return live;
        }
        throw e;
      }
    }
    return store.liveToken() ?? (await loginFor(attempt));
  }

  async function tokenAfter(used: string, res: WxResponse, attempt: Attempt): Promise<string> {
    const current = store.liveToken();
    if (current !== null && current !== used) {
      return current;
    }
    if (errorKind(res) === "token_expired" && !attempt.refreshed && store.refreshable()?.token === used) {
      // Errors of the refresh itself (no answer, 503) reach the caller: no login for those.
      return refreshedOrLogin(attempt);
    }
    store.forget(used);
    return loginFor(attempt);
  }

  async function tokenWithoutLogin(): Promise<string | null> {
    const ready = fresh();
    if (ready !== null || store.refreshable() === null) {
      return ready ?? store.liveToken();
    }
    try {
      return await refresh();
    } catch (e) {
      if (isWxLoginError(e, "account_disabled")) {
        throw e;
      }
      const live = store.liveToken();
      if (live !== null) {
        return live;
      }
      throw e;
    }
  }

  return { begin, tokenFor, tokenAfter, tokenWithoutLogin };
}
