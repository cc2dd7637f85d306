/**
 * wxlogin-miniprogram: the mini-program half of wxlogin.
 *
 * One client per backend. It logs in with `wx.login` when it has no token, keeps the access
 * token and the refresh token under one namespaced key, sends the access token on every
 * request, refreshes it shortly before it expires and when the server answers `token_expired`,
 * and logs in again only when refreshing is refused or the session is gone — once, however many
 * requests are waiting (single flight), and replaying each of them once. Everything else
 * (network errors, 403, 429, 5xx) is handed to the caller as a typed {@link WxLoginError} and
 * never starts a login; `account_disabled` (a banned account) also removes the tokens and ends
 * every call under way.
 *
 * @packageDocumentation
 */

export type {
  ErrorBody,
  LoginResponse,
  ProfileUpdate,
  RefreshResponse,
  ServerErrorKind,
  User,
} from "./schemas.js";
export { isWxLoginError, WxLoginError } from "./errors.js";
export type { ClientErrorKind, ErrorKind } from "./errors.js";
export type {
  Method,
  WxLike,
  WxRequestOptions,
  WxResponse,
  WxUploadFileOptions,
  WxUploadResponse,
} from "./wx-like.js";
export type { RequestOptions } from "./transport.js";
export { createClient } from "./client.js";
export type { ClientOptions, UserInfoResult, WxLoginClient } from "./client.js";
export { fromTaro, fromUni } from "./adapters.js";
export type { TaroLike, UniLike } from "./adapters.js";
