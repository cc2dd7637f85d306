/**
 * One HTTP exchange with the server, through `wx.request` or `wx.uploadFile`: the URL under
 * `baseURL`, the headers and the bearer token, and the answer's body parsed. No retry, no
 * login.
 */

import { WxLoginError } from "./errors.js";
import { swallow } from "./wx-like.js";
import type { Method, WxLike, WxRequestOptions, WxResponse, WxUploadFileOptions } from "./wx-like.js";

/** A request through the client: `url` is relative to `baseURL`. */
export interface RequestOptions {
  url: string;
  method?: Method;
  data?: string | Record<string, unknown> | ArrayBuffer;
  header?: Record<string, string>;
}

/** Sends one request (with `token` as the bearer, when not `null`) and resolves with the answer. */
export type Send = (
  method: Method,
  url: string,
  data: RequestOptions["data"] | undefined,
  header: Record<string, string>,
  token: string | null,
) => Promise<WxResponse>;

/** Sends through `wx.request` to `base` (no trailing slash), giving up after `timeout` ms. */
export function createSend(wx: WxLike, base: string, timeout: number): Send {
  return function send(method, url, data, header, token) {
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
  };
}

/** What to upload, and where (`url` relative to `baseURL`). */
export interface UploadOptions {
  url: string;
  /** The local file (`chooseAvatar`'s `e.detail.avatarUrl`, for one). */
  filePath: string;
  /** The multipart part the file goes in. */
  name: string;
}

/** Uploads one file (with `token` as the bearer) and resolves with the answer, its body parsed. */
export type Upload = (opts: UploadOptions, token: string) => Promise<WxResponse>;

/**
 * Uploads through `wx.uploadFile` (a `multipart/form-data` POST) to `base` (no trailing
 * slash), giving up after `timeout` ms. `wx.uploadFile` writes the multipart `Content-Type`,
 * boundary included, itself: only the token is added.
 */
export function createUpload(wx: WxLike, base: string, timeout: number): Upload {
  return function upload(opts, token) {
    if (!opts.url.startsWith("/")) {
      return Promise.reject(
        new WxLoginError("invalid_url", `the url must start with "/" (it is relative to baseURL): ${opts.url}`),
      );
    }
    return new Promise<WxResponse>((resolve, reject) => {
      const options: WxUploadFileOptions = {
        url: base + opts.url,
        filePath: opts.filePath,
        name: opts.name,
        header: { Authorization: `Bearer ${token}` },
        timeout,
        // wx.uploadFile hands the body as text, and no headers.
        success: (res) => resolve({ statusCode: res.statusCode, data: parsed(res.data), header: {} }),
        fail: (err) =>
          reject(new WxLoginError("network_error", err?.errMsg ?? "the upload failed")),
      };
      swallow(wx.uploadFile(options));
    });
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
