/** Taro's and uni-app's APIs in the shape of the client's `wx` ({@link WxLike}). */

import { swallow } from "./wx-like.js";
import type { WxLike } from "./wx-like.js";

/** The part of Taro the client uses: Taro's callback style is `wx`'s. */
export type TaroLike = WxLike;

/** Adapts Taro (`import Taro from "@tarojs/taro"`) to the client's `wx`. */
export function fromTaro(taro: TaroLike): WxLike {
  return {
    login: (o) => void swallow(taro.login(o)),
    request: (o) => swallow(taro.request(o)),
    uploadFile: (o) => swallow(taro.uploadFile(o)),
    getStorageSync: (k) => taro.getStorageSync(k),
    setStorageSync: (k, v) => taro.setStorageSync(k, v),
    removeStorageSync: (k) => taro.removeStorageSync(k),
    checkSession: (o) => void swallow(taro.checkSession(o)),
  };
}

/** The part of uni-app the client uses; `uni.login` takes a `provider`. */
export interface UniLike extends Omit<WxLike, "login"> {
  login(options: {
    provider: "weixin";
    timeout?: number;
    success?: (res: { code: string }) => void;
    fail?: (err: { errMsg: string }) => void;
  }): unknown;
}

/** Adapts uni-app's `uni` (built for `mp-weixin`) to the client's `wx`. */
export function fromUni(uni: UniLike): WxLike {
  return {
    login: (o) => void swallow(uni.login({ provider: "weixin", ...o })),
    request: (o) => swallow(uni.request(o)),
    uploadFile: (o) => swallow(uni.uploadFile(o)),
    getStorageSync: (k) => uni.getStorageSync(k),
    setStorageSync: (k, v) => uni.setStorageSync(k, v),
    removeStorageSync: (k) => uni.removeStorageSync(k),
    checkSession: (o) => void swallow(uni.checkSession(o)),
  };
}
