/**
 * `account_disabled`: the server's answer (`403`) to a banned account's login or refresh. It is
 * final: the tokens are removed, and no call under way when it came logs in or refreshes
 * again; each rejects with it. A call the app makes after it starts afresh (the ban may have
 * been lifted).
 */

import { errorOf, WxLoginError } from "./errors.js";
import type { TokenStore } from "./token-store.js";
import type { WxResponse } from "./wx-like.js";

/** What the client knows of `account_disabled` answers. */
export interface Disabled {
  /** Where a call starts: an `account_disabled` seen after it ends that call. */
  mark(): number;
  /** Rejects with the `account_disabled` seen since `mark`, if one was. */
  check(mark: number): void;
  /**
   * The error of an answer of 400 or more ({@link errorOf}). When it is `account_disabled`,
   * the tokens are removed and every call under way is ended with it.
   */
  errorOf(res: WxResponse): WxLoginError;
}

/** Removes the tokens of `store` when the server answers `account_disabled`. */
export function createDisabled(store: TokenStore): Disabled {
  let serial = 0;
  let seen: { at: number; error: WxLoginError } | null = null;

  return {
    mark: () => serial,

    check(mark) {
      if (seen !== null && seen.at > mark) {
        throw seen.error;
      }
    },

    errorOf(res) {
      const error = disabledError(res) ?? errorOf(res);
      if (error.error === "account_disabled") {
        store.forget();
        serial += 1;
        seen = { at: serial, error };
      }
      return error;
    },
  };
}

/**
 * The `account_disabled` error of `res`, when it is one: known by its `error` kind alone, so
 * that a body whose text is not in `msg` (`message`, or none) still gives the kind.
 */
function disabledError(res: WxResponse): WxLoginError | null {
  const body = res.data as { error?: unknown; msg?: unknown; message?: unknown } | null;
  if (res.statusCode < 400 || typeof body !== "object" || body === null || body.error !== "account_disabled") {
    return null;
  }
  const msg =
    typeof body.msg === "string"
      ? body.msg
      : typeof body.message === "string"
        ? body.message
        : "the account is disabled";
  return new WxLoginError("account_disabled", msg, res.statusCode, res.data);
}
