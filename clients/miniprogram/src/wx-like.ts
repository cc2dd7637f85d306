/**
 * The part of the mini program's `wx` the client uses ({@link WxLike}), what its `request`
 * takes and gives, and {@link swallow} for the platforms whose calls also return a promise.
 */

/** What `wx.request` hands its `success` callback. */
export interface WxResponse {
  statusCode: number;
  data: unknown;
  header: Record<string, unknown>;
}

/** The HTTP methods the client sends. */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "OPTIONS";

/** What `wx.request` is given. */
export interface WxRequestOptions {
  url: string;
  method?: Method;
  data?: string | Record<string, unknown> | ArrayBuffer;
  header?: Record<string, string>;
  dataType?: "json";
  timeout?: number;
  success?: (res: WxResponse) => void;
  fail?: (err: { errMsg: string }) => void;
}

/**
 * The part of the mini program's `wx` the client uses. The real `wx` (typed by
 * `miniprogram-api-typings`) fits it; {@link fromTaro} and {@link fromUni} make Taro and
 * uni-app fit it.
 */
export interface WxLike {
  login(options: {
    timeout?: number;
    success?: (res: { code: string }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): void;
  request(options: WxRequestOptions): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
  checkSession(options: { success?: () => void; fail?: () => void }): void;
}

/** Taro and uni-app answer callbacks and return a promise too; its rejection is `fail`'s. */
export function swallow(value: unknown): unknown {
  if (typeof value === "object" && value !== null && typeof (value as Promise<unknown>).catch === "function") {
    (value as Promise<unknown>).catch(() => undefined);
  }
  return value;
}
