/** The token, kept under one storage key with when it expires; nothing else is stored. */

import type { WxLike } from "./wx-like.js";

/** What is kept under the storage key. */
export interface Stored {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** The token under one storage key. */
export interface TokenStore {
  /** What is stored, when it has the shape of a {@link Stored}; else `null`. */
  stored(): Stored | null;
  /** Keeps `token`, which the server says lives `expiresIn` seconds from now. */
  save(token: string, expiresIn: number): void;
  /** Removes the stored token (only when it is `token`, when given). */
  forget(token?: string): void;
  /** The stored token while its session lives (as far as this device knows). */
  liveToken(): string | null;
}

/** The token stored under `key` in `wx`'s storage; `now` is the clock, in milliseconds. */
export function createTokenStore(wx: WxLike, key: string, now: () => number): TokenStore {
  function stored(): Stored | null {
    let value: unknown;
    try {
      value = wx.getStorageSync(key);
    } catch {
      return null;
    }
    if (
      typeof value === "object" &&
      value !== null &&
      typeof (value as Stored).token === "string" &&
      typeof (value as Stored).expiresAt === "number"
    ) {
      return value as Stored;
    }
    return null;
  }

  function save(token: string, expiresIn: number): void {
    wx.setStorageSync(key, { token, expiresAt: now() + expiresIn * 1000 });
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

  return { stored, save, forget, liveToken };
}
