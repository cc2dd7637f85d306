/**
 * wxlogin-miniprogram: the mini-program half of wxlogin.
 *
 * One client per backend. It logs in with `wx.login` when it has no token, keeps the token
 * under one namespaced key, sends it on every request, and logs in again only when the server
 * says the session is gone — once, however many requests are waiting (single flight), and
 * replaying each of them once. Everything else (network errors, 403, 429, 5xx) is handed to
 * the caller as a typed {@link WxLoginError} and never starts a login.
 *
 * @packageDocumentation
 */

import { errorOf, WxLoginError } from "./errors.js";
import type { ErrorBody, LoginResponse, User } from "./schemas.js";
import { swallow } from "./wx-like.js";
import type { Method, WxLike, WxRequestOptions, WxResponse } from "./wx-like.js";

export type { ErrorBody, LoginResponse, ServerErrorKind, User } from "./schemas.js";
export { isWxLoginError, WxLoginError } from "./errors.js";
export type { ClientErrorKind, ErrorKind } from "./errors.js";
export type { Method, WxLike, WxRequestOptions, WxResponse } from "./wx-like.js";
export { fromTaro, fromUni } from "./adapters.js";
export type { TaroLike, UniLike } from "./adapters.js";

/** How to make a client. */
export interface ClientOptions {
  /** Where wxlogin is, e.g. `https://api.example.com` (no trailing path needed). */
  baseURL: string;
  /** The mini program's `wx`, or `fromTaro(Taro)`, or `fromUni(uni)`. */
  wx: WxLike;
  /** The mini program's appid, for a server that serves several. */
  appid?: string;
  /** Milliseconds before a request is given up as a `network_error` (default 10 000). */
  timeout?: number;
  /** The storage key of the token (default `wxlogin:v1:token`, plus `:<appid>` with one). */
  storageKey?: string;
  /** The clock, in milliseconds (default `Date.now`); for tests. */
  now?: () => number;
  /** Waits `ms` milliseconds (default `setTimeout`); for tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** A request through the client: `url` is relative to `baseURL`. */
export interface RequestOptions {
  url: string;
  method?: Method;
  data?: string | Record<string, unknown> | ArrayBuffer;
  header?: Record<string, string>;
}

/** What `wx.getUserInfo` (or `getUserProfile`) returns. */
export interface UserInfoResult {
  rawData: string;
  signature: string;
  encryptedData: string;
  iv: string;
}

/** What a client does. */
export interface WxLoginClient {
  /** Logs in now (one `wx.login`, one `POST /api/login`, shared by all callers meanwhile). */
  login(): Promise<LoginResponse>;
  /** Sends a request with the token, logging in first or once again when needed. */
  request<T = unknown>(options: RequestOptions): Promise<WxResponse & { data: T }>;
  /** `GET /api/me`. */
  me(): Promise<User>;
  /** Ends this session (or, with `everywhere`, all of the account's) and forgets the token. */
  logout(options?: { everywhere?: boolean }): Promise<void>;
  /** Deletes the account (re-authenticated by a fresh `wx.login` code) and forgets the token. */
  deleteAccount(): Promise<void>;
  /** The stored token, or `null`. */
  token(): string | null;
  /**
   * Sends what `wx.getUserInfo` returned to `/api/me/userinfo`. Calls `wx.checkSession` (here
   * and nowhere else) and never `wx.login` before sending, which would make WeChat rotate the
   * session key the data is encrypted with.
   */
  sendUserInfo(result: UserInfoResult): Promise<User>;
  /** Sends the code of a `getPhoneNumber` button's event (`e.detail`) to `/api/me/phone`. */
  sendPhoneNumber(detail: { code?: string; errMsg?: string }): Promise<User>;
}

declare function setTimeout(callback: () => void, ms: number): unknown;

/** WeChat answers about four `wx.login` calls a second before it rate-limits. */
const LOGINS_PER_SECOND = 4;
const SESSION_ENDED: readonly string[] = ["token_expired", "session_revoked", "token_invalid"];

interface Stored {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Makes a client for the wxlogin server at `baseURL`. */
export function createClient(options: ClientOptions): WxLoginClient {
  const { wx, appid } = options;
  const base = options.baseURL.replace(/\/+$/, "");
  const timeout = options.timeout ?? 10_000;
  const key = options.storageKey ?? `wxlogin:v1:token${appid ? `:${appid}` : ""}`;
  const now = options.now ?? (() => Date.now());
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => void setTimeout(resolve, ms)));

  let inflight: Promise<LoginResponse> | null = null;
  const recentLogins: number[] = [];

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

  /** The stored token while its session lives (as far as this device knows). */
  function liveToken(): string | null {
    const s = stored();
    return s !== null && now() < s.expiresAt ? s.token : null;
  }

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

  async function wxCode(): Promise<string> {
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
  }

  function send(
    method: Method,
    url: string,
    data: RequestOptions["data"] | undefined,
    header: Record<string, string>,
    token: string | null,
  ): Promise<WxResponse> {
    if (!url.startsWith("/")) {
      return Promise.reject(
        new WxLoginError("invalid_url", `the url must start with "/" (it is relative to baseURL): ${url}`),
      );
    }
    const headers: Record<string, string> = { "Content-Type": "application/json", ...header };
    if (token !== null) {
      headers["Authorization"] = `Bearer ${token}`;
    }
    return new Promise<WxResponse>((resolve, reject) => {
      const request: WxRequestOptions = {
        url: base + url,
        method,
        header: headers,
        dataType: "json",
        timeout,
        success: (res) => resolve({ ...res, data: parsed(res.data) }),
        fail: (err) =>
          reject(new WxLoginError("network_error", err?.errMsg ?? "the request failed")),
      };
      if (data !== undefined) {
        request.data = data;
      }
      // Taro and uni-app also return a promise that rejects on failure: `fail` has it.
      swallow(wx.request(request));
    });
  }

  function sessionEnded(res: WxResponse): boolean {
    const kind = (res.data as Partial<ErrorBody> | null)?.error;
    return res.statusCode === 401 && typeof kind === "string" && SESSION_ENDED.includes(kind);
  }

  async function doLogin(): Promise<LoginResponse> {
    for (let attempt = 0; ; attempt++) {
      const code = await wxCode();
      const res = await send("POST", "/api/login", appid ? { code, appid } : { code }, {}, null);
      if (res.statusCode === 200) {
        const body = res.data as LoginResponse;
        if (typeof body?.token !== "string" || typeof body.expiresIn !== "number") {
          throw new WxLoginError("bad_response", "the login answer has no token", 200, res.data);
        }
        wx.setStorageSync(key, { token: body.token, expiresAt: now() + body.expiresIn * 1000 });
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
    return liveToken() ?? (await login()).token;
  }

  /** After a 401 that ended `used`: the token of a login since, or of a new one. */
  async function tokenAfter(used: string): Promise<string> {
    const current = liveToken();
    if (current !== null && current !== used) {
      return current;
    }
    forget(used);
    return (await login()).token;
  }

  async function request<T>(opts: RequestOptions): Promise<WxResponse & { data: T }> {
    const method = opts.method ?? "GET";
    const header = opts.header ?? {};
    let token = await tokenOrLogin();
    let res = await send(method, opts.url, opts.data, header, token);
    if (sessionEnded(res)) {
      token = await tokenAfter(token);
      res = await send(method, opts.url, opts.data, header, token);
      if (sessionEnded(res)) {
        // Refused again right after a fresh login: not something another login would fix.
        forget(token);
        throw errorOf(res);
      }
    }
    if (res.statusCode >= 400) {
      throw errorOf(res);
    }
    return res as WxResponse & { data: T };
  }

  return {
    login,
    request,

    async me() {
      return (await request<User>({ url: "/api/me" })).data;
    },

    async logout(opts = {}) {
      const token = stored()?.token ?? null;
      if (token === null) {
        return;
      }
      try {
        const res = await send(
          "POST",
          "/api/logout",
          opts.everywhere ? { everywhere: true } : undefined,
          {},
          token,
        );
        if (res.statusCode !== 204 && !sessionEnded(res)) {
          throw errorOf(res);
        }
      } finally {
        // Forgotten here whatever the server said: a user who logs out is logged out on
        // this device, and a session the server could not end expires with its token.
        forget(token);
      }
    },

    async deleteAccount() {
      let token = await tokenOrLogin();
      for (let attempt = 0; ; attempt++) {
        const code = await wxCode();
        const res = await send("DELETE", "/api/me", { code }, {}, token);
        if (res.statusCode === 204) {
          forget();
          return;
        }
        if (sessionEnded(res) && attempt === 0) {
          token = await tokenAfter(token);
          continue;
        }
        throw errorOf(res);
      }
    },

    token() {
      return stored()?.token ?? null;
    },

    async sendUserInfo(result) {
      const fresh = await new Promise<boolean>((resolve) =>
        wx.checkSession({ success: () => resolve(true), fail: () => resolve(false) }),
      );
      if (!fresh) {
        // The data was encrypted under a session WeChat has ended; a new login is needed for
        // the next try, and this data can never be used.
        forget();
        await login();
        throw new WxLoginError(
          "session_key_stale",
          "WeChat's session had expired; logged in again: get the user info again and resend it",
        );
      }
      const token = liveToken();
      if (token === null) {
        throw new WxLoginError(
          "not_logged_in",
          "log in (client.login()) before getting the user info: a login after it would make it undecryptable",
        );
      }
      const { rawData, signature, encryptedData, iv } = result;
      const res = await send(
        "POST",
        "/api/me/userinfo",
        { rawData, signature, encryptedData, iv },
        {},
        token,
      );
      if (sessionEnded(res)) {
        forget(token);
      }
      if (res.statusCode >= 400) {
        throw errorOf(res);
      }
      return res.data as User;
    },

    async sendPhoneNumber(detail) {
      if (typeof detail?.code !== "string" || detail.code === "") {
        throw new WxLoginError(
          "invalid_code",
          `getPhoneNumber gave no code (${detail?.errMsg ?? "declined?"})`,
        );
      }
      const res = await request<User>({
        url: "/api/me/phone",
        method: "POST",
        data: { code: detail.code },
      });
      return res.data;
    },
  };
}

function parsed(data: unknown): unknown {
  if (typeof data === "string" && data !== "") {
    try {
      return JSON.parse(data);
    } catch {
      return data;
    }
  }
  return data;
}
