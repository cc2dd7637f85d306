/**
 * The part of the mini program's `wx` the client uses ({@link WxLike}), what its `request`
 * and `uploadFile` take and give, and {@link swallow} for the platforms whose calls also
 * return a promise.
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

/** What `wx.uploadFile` hands its `success` callback: the body is the server's text, unparsed. */
export interface WxUploadResponse {
  statusCode: number;
  data: string;
}

/** What `wx.uploadFile` is given: a `multipart/form-data` POST of the local file `filePath`. */
export interface WxUploadFileOptions {
  url: string;
  /** A local file: a temporary path (`chooseAvatar`, `chooseMedia`) or one under `wx.env.USER_DATA_PATH`. */
  filePath: string;
  /** The multipart part the file goes in. */
  name: string;
  header?: Record<string, string>;
  /** Other parts of the form. */
  formData?: Record<string, string>;
  timeout?: number;
  success?: (res: WxUploadResponse) => void;
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
  uploadFile(options: WxUploadFileOptions): unknown;
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
