/**
 * One HTTP exchange with the server through `wx.request`: the URL under `baseURL`, the JSON
 * headers and the bearer token, and the answer's body parsed. No retry, no login.
 */

import { WxLoginError } from "./errors.js";
import { swallow } from "./wx-like.js";
import type { Method, WxLike, WxRequestOptions, WxResponse } from "./wx-like.js";

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
