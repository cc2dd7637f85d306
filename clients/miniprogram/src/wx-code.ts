/** Codes from `wx.login`, never more of them a second than WeChat allows. */

import { WxLoginError } from "./errors.js";
import type { WxLike } from "./wx-like.js";

/** WeChat answers about four `wx.login` calls a second before it rate-limits. */
const LOGINS_PER_SECOND = 4;

/**
 * A function that calls `wx.login` for a code, first waiting until the call keeps to
 * {@link LOGINS_PER_SECOND} (counted per function made here, that is per client).
 */
export function createWxCode(
  wx: WxLike,
  timeout: number,
  now: () => number,
  sleep: (ms: number) => Promise<void>,
): () => Promise<string> {
  const recentLogins: number[] = [];

  /** Waits until one more `wx.login` keeps to {@link LOGINS_PER_SECOND}. */
  async function pace(): Promise<void> {
    for (;;) {
      const t = now();
      while (recentLogins.length > 0 && t - (recentLogins[0] as number) >= 1000) {
        recentLogins.shift();
      }
      if (recentLogins.length < LOGINS_PER_SECOND) {
        recentLogins.push(t);
        return;
      }
      await sleep(1000 - (t - (recentLogins[0] as number)));
    }
  }

  return async function wxCode(): Promise<string> {
    await pace();
    return new Promise<string>((resolve, reject) => {
      wx.login({
        timeout,
        success: (res) => {
          if (res && typeof res.code === "string" && res.code !== "") {
            resolve(res.code);
          } else {
            reject(new WxLoginError("login_failed", "wx.login gave no code"));
          }
        },
        fail: (err) =>
          reject(new WxLoginError("login_failed", `wx.login failed: ${err?.errMsg ?? "unknown"}`)),
      });
    });
  };
}
