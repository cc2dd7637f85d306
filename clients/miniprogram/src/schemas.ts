/**
 * The server's types the client hands out, by name: generated from its `/openapi.json` into
 * `api.ts`.
 */

import type { components } from "./api.js";

/** An account, as `/api/me` and every account route answer it. */
export type User = components["schemas"]["User"];
/**
 * `PUT /api/me`: a partial update of the profile. A field left out stays as it is; `null`
 * clears it.
 */
export type ProfileUpdate = components["schemas"]["ProfileRequest"];
/** The answer to `POST /api/login`. */
export type LoginResponse = components["schemas"]["LoginResponse"];
/** The answer to `POST /api/token/refresh`. */
export type RefreshResponse = components["schemas"]["RefreshResponse"];
/** The body of every error answer of the server. */
export type ErrorBody = components["schemas"]["ErrorBody"];
/**
 * The `error` kinds the server answers (see its `/openapi.json`), and `account_disabled`
 * (`403`: a banned account's login or refresh), listed here by hand until `api.ts` is
 * regenerated from a server that describes it; it is then listed twice, which changes nothing.
 */
export type ServerErrorKind = components["schemas"]["ApiErrorKind"] | "account_disabled";
