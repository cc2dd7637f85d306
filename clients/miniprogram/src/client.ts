/**
 * The client: how to make one ({@link ClientOptions}), what it does ({@link WxLoginClient}),
 * and {@link createClient}, which puts the token store, `wx.login`'s codes, the transports
 * (`wx.request`, `wx.uploadFile`), the login and refresh single flights, the session choosing
 * a request's token and the request wrapper together, and adds the account routes.
 */

import { createDisabled } from "./disabled.js";
import { WxLoginError } from "./errors.js";
import { createLogin, sessionEnded } from "./login.js";
import { createRefresh } from "./refresh.js";
import { createAuthorized, createRequest } from "./request.js";
import type { LoginResponse, ProfileUpdate, User } from "./schemas.js";
import { createSession } from "./session.js";
import { createTokenStore } from "./token-store.js";
import { createSend, createUpload } from "./transport.js";
import type { RequestOptions } from "./transport.js";
import { createWxCode } from "./wx-code.js";
import type { WxLike, WxResponse } from "./wx-like.js";

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
  /**
   * Milliseconds before an upload (`uploadAvatar`) is given up as a `network_error` (default
   * 60 000, `wx.uploadFile`'s own default: a photo on a slow network takes longer than a
   * request).
   */
  uploadTimeout?: number;
  /** The storage key of the tokens (default `wxlogin:v1:token`, plus `:<appid>` with one). */
  storageKey?: string;
  /** The clock, in milliseconds (default `Date.now`); for tests. */
  now?: () => number;
  /** Waits `ms` milliseconds (default `setTimeout`); for tests. */
  sleep?: (ms: number) => Promise<void>;
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
  /**
   * Sends a request with the access token, refreshing it (or logging in) first or once again
   * when needed.
   */
  request<T = unknown>(options: RequestOptions): Promise<WxResponse & { data: T }>;
  /** `GET /api/me`. */
  me(): Promise<User>;
  /** Ends this session (or, with `everywhere`, all of the account's) and forgets the tokens. */
  logout(options?: { everywhere?: boolean }): Promise<void>;
  /** Deletes the account (re-authenticated by a fresh `wx.login` code) and forgets the tokens. */
  deleteAccount(): Promise<void>;
  /** The stored access token, or `null`. */
  token(): string | null;
  /**
   * Sends what `wx.getUserInfo` returned to `/api/me/userinfo`. Calls `wx.checkSession` (here
   * and nowhere else) and never `wx.login` before sending, which would make WeChat rotate the
   * session key the data is encrypted with.
   */
  sendUserInfo(result: UserInfoResult): Promise<User>;
  /** Sends the code of a `getPhoneNumber` button's event (`e.detail`) to `/api/me/phone`. */
  sendPhoneNumber(detail: { code?: string; errMsg?: string }): Promise<User>;
  /**
   * Uploads the avatar a `chooseAvatar` button gave (`e.detail.avatarUrl`, a temporary local
   * file) to `POST /api/me/avatar` through `wx.uploadFile`, with the token like every request
   * (logging in or refreshing first, or once again, when needed) → the `User` with its new
   * `avatarUrl`. Rejects with `invalid_image` (not a JPEG, PNG, WebP or GIF, or no file) or
   * `payload_too_large`; the previous avatar then stays.
   */
  uploadAvatar(tempFilePath: string): Promise<User>;
  /**
   * `PUT /api/me`: the nickname of an `<input type="nickname">` (and, if wanted, an external
   * `avatarUrl`); a field left out stays, `null` clears it → the `User`. Rejects with
   * `content_rejected` when WeChat's content security finds the nickname risky: ask for
   * another one; nothing changed.
   */
  updateProfile(update: ProfileUpdate): Promise<User>;
}

declare function setTimeout(callback: () => void, ms: number): unknown;

/** Makes a client for the wxlogin server at `baseURL`. */
export function createClient(options: ClientOptions): WxLoginClient {
  const { wx, appid } = options;
  const base = options.baseURL.replace(/\/+$/, "");
  const timeout = options.timeout ?? 10_000;
  const uploadTimeout = options.uploadTimeout ?? 60_000;
  const key = options.storageKey ?? `wxlogin:v1:token${appid ? `:${appid}` : ""}`;
  const now = options.now ?? (() => Date.now());
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => void setTimeout(resolve, ms)));

  const store = createTokenStore(wx, key, now);
  const { stored, forget } = store;
  const wxCode = createWxCode(wx, timeout, now, sleep);
  const send = createSend(wx, base, timeout);
  const disabled = createDisabled(store);
  // Every answer's error goes through it: `account_disabled` removes the tokens.
  const errorOf = disabled.errorOf;
  const login = createLogin(appid, wxCode, send, store, disabled);
  const session = createSession(login, createRefresh(send, store, disabled), store, disabled);
  const authorized = createAuthorized(session, store, disabled);
  const request = createRequest(send, authorized);
  const upload = createUpload(wx, base, uploadTimeout);

  return {
    login,
    request,

    async me() {
      return (await request<User>({ url: "/api/me" })).data;
    },

    async logout(opts = {}) {
      const kept = stored()?.token ?? null;
      if (kept === null) {
        return;
      }
      let token = kept;
      try {
        // An expired access token cannot end its session: refresh it first (never log in
        // for a logout). Without an answer, the logout is tried with the token there is.
        token = (await session.tokenWithoutLogin()) ?? kept;
      } catch {
        // Kept as it is.
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
        // this device, and a session the server could not end expires with its tokens.
        forget(token);
        forget(kept);
      }
    },

    async deleteAccount() {
      const renewal = session.begin();
      let token = await session.tokenFor(renewal);
      for (let attempt = 0; ; attempt++) {
        const code = await wxCode();
        const res = await send("DELETE", "/api/me", { code }, {}, token);
        if (res.statusCode === 204) {
          forget();
          return;
        }
        if (sessionEnded(res) && attempt === 0) {
          token = await session.tokenAfter(token, res, renewal);
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
      // A refresh is harmless here (it does not touch WeChat's session); a login is not.
      const token = await session.tokenWithoutLogin();
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

    async uploadAvatar(tempFilePath) {
      if (typeof tempFilePath !== "string" || tempFilePath === "") {
        throw new WxLoginError("invalid_image", "no file to upload (chooseAvatar gave no avatarUrl?)");
      }
      const res = await authorized((token) =>
        upload({ url: "/api/me/avatar", filePath: tempFilePath, name: "file" }, token),
      );
      return userOf(res);
    },

    async updateProfile(update) {
      // Only the profile's fields: a form's other values are not the server's business.
      const body: ProfileUpdate = {};
      if (update.nickName !== undefined) {
        body.nickName = update.nickName;
      }
      if (update.avatarUrl !== undefined) {
        body.avatarUrl = update.avatarUrl;
      }
      const res = await request<User>({ url: "/api/me", method: "PUT", data: body });
      return userOf(res);
    },
  };
}

/** The `User` a 200 carries, or `bad_response` (an answer that is not the server's). */
function userOf(res: WxResponse): User {
  const user = res.data as Partial<User> | null;
  if (typeof user !== "object" || user === null || typeof user.id !== "string") {
    throw new WxLoginError("bad_response", "the answer is not an account", res.statusCode, res.data);
  }
  return user as User;
}
