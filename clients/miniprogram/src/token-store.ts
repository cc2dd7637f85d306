/**
 * The tokens, kept under one storage key: the access token with when it expires, and beside it
 * the refresh token with when its session ends. Nothing else is stored.
 *
 * What older versions stored (`{ token, expiresAt }`, no refresh token) still reads: such a
 * token is used until it expires, then the client logs in again, as those versions did.
 */

import type { WxLike } from "./wx-like.js";

/** What is kept under the storage key. */
export interface Stored {
  /** The access token. */
  token: string;
  /** When the access token expires, in milliseconds since the epoch (this device's clock). */
  expiresAt: number;
  /** When the access token was received (milliseconds); with `expiresAt`, its life. */
  issuedAt?: number;
  /** The refresh token: spent by one `POST /api/token/refresh`, which gives the next one. */
  refreshToken?: string;
  /** When the session, and so the refresh token, ends (milliseconds). */
  refreshExpiresAt?: number;
}

/** A pair of tokens as the server gives them (`LoginResponse`, `RefreshResponse`). */
export interface Issued {
  token: string;
  /** Seconds the access token lives. */
  expiresIn: number;
  /** Absent from servers before refresh tokens. */
  refreshToken?: string | undefined;
  /** Seconds the session lives. */
  refreshExpiresIn?: number | undefined;
}

/** The tokens under one storage key. */
export interface TokenStore {
  /** What is stored, when it has the shape of a {@link Stored}; else `null`. */
  stored(): Stored | null;
  /** Keeps a login's or a refresh's tokens, received now. */
  save(issued: Issued): void;
  /**
   * Keeps a refresh's tokens only while the refresh token it spent is still the stored one:
   * an answer that comes back after a logout, or after another login, must not bring a
   * session back. Says whether it kept them.
   */
  saveRefreshed(spent: string, issued: Issued): boolean;
  /** Removes the stored tokens (only when the access token is `token`, when given). */
  forget(token?: string): void;
  /** The stored access token while it lives (as far as this device knows). */
  liveToken(): string | null;
  /** The stored tokens when the refresh token can still be sent (its session has not ended). */
  refreshable(): (Stored & { refreshToken: string }) | null;
  /**
   * Whether the stored access token is due for a refresh: less than `max(60 s, 10 % of its
   * life)` is left, but never before half its life has passed (so a short-lived token is not
   * refreshed on every request). Always `false` without a refresh token.
   */
  dueForRefresh(s: Stored): boolean;
}

/** Refresh when less than this is left... */
const MIN_MARGIN_MS = 60_000;
/** ...or less than this share of the token's life, whichever is larger... */
const MARGIN_SHARE = 0.1;
/** ...but not before this share of the life has passed. */
const MAX_MARGIN_SHARE = 0.5;

/** The tokens stored under `key` in `wx`'s storage; `now` is the clock, in milliseconds. */
export function createTokenStore(wx: WxLike, key: string, now: () => number): TokenStore {
  function stored(): Stored | null {
    let value: unknown;
    try {
      value = wx.getStorageSync(key);
    } catch {
      return null;
    }
    if (typeof value !== "object" || value === null) {
      return null;
    }
    const v = value as Partial<Record<keyof Stored, unknown>>;
    if (typeof v.token !== "string" || typeof v.expiresAt !== "number") {
      return null;
    }
    const s: Stored = { token: v.token, expiresAt: v.expiresAt };
    if (typeof v.issuedAt === "number") {
      s.issuedAt = v.issuedAt;
    }
    // A refresh token is used only with its expiry; one without is treated as absent.
    if (typeof v.refreshToken === "string" && v.refreshToken !== "" && typeof v.refreshExpiresAt === "number") {
      s.refreshToken = v.refreshToken;
      s.refreshExpiresAt = v.refreshExpiresAt;
    }
    return s;
  }

  function save(issued: Issued): void {
    const t = now();
    const value: Stored = { token: issued.token, expiresAt: t + issued.expiresIn * 1000, issuedAt: t };
    if (typeof issued.refreshToken === "string" && typeof issued.refreshExpiresIn === "number") {
      value.refreshToken = issued.refreshToken;
      value.refreshExpiresAt = t + issued.refreshExpiresIn * 1000;
    }
    wx.setStorageSync(key, value);
  }

  function saveRefreshed(spent: string, issued: Issued): boolean {
    if (stored()?.refreshToken !== spent) {
      return false;
    }
    save(issued);
    return true;
  }

  function forget(token?: string): void {
    const current = stored();
    if (token === undefined || current?.token === token) {
      try {
        wx.removeStorageSync(key);
      } catch {
        // Nothing to remove, or storage is gone: either way no token is kept.
      }
    }
  }

  function liveToken(): string | null {
    const s = stored();
    return s !== null && now() < s.expiresAt ? s.token : null;
  }

  function refreshable(): (Stored & { refreshToken: string }) | null {
    const s = stored();
    return s !== null && s.refreshToken !== undefined && now() < (s.refreshExpiresAt ?? 0)
      ? (s as Stored & { refreshToken: string })
      : null;
  }

  function dueForRefresh(s: Stored): boolean {
    if (s.refreshToken === undefined) {
      return false;
    }
    const life = Math.max(0, s.expiresAt - (s.issuedAt ?? s.expiresAt));
    const margin = Math.min(Math.max(MIN_MARGIN_MS, life * MARGIN_SHARE), life * MAX_MARGIN_SHARE);
    return now() >= s.expiresAt - margin;
  }

  return { stored, save, saveRefreshed, forget, liveToken, refreshable, dueForRefresh };
}
