// The client's tokens against the real wxlogin-server (dev mode) with access tokens of one
// minute (ACCESS_TOKEN_TTL_SECS=60): a login, then a refresh through the client, the access
// tokens verified offline with `jose` against the server's JWKS, as another service would.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createClient } from "../dist/esm/index.js";
import { fakeWx } from "./fakes.mjs";
import { startServer } from "./server.mjs";

const KEY = "wxlogin:v1:token";

let server;
let jwks;
before(async () => {
  server = await startServer({ ACCESS_TOKEN_TTL_SECS: "60" });
  jwks = createRemoteJWKSet(new URL(`${server.baseURL}/.well-known/jwks.json`));
});
after(async () => {
  await server?.stop();
});

/** What another service does with a token: verify it offline against the published keys. */
function verify(token) {
  return jwtVerify(token, jwks, {
    issuer: "wxlogin",
    audience: "wxlogin-api",
    typ: "at+jwt",
    algorithms: ["EdDSA", "ES256"],
  });
}

/** `token` with one character of `part` (0 header, 1 payload, 2 signature) changed. */
function tampered(token, part) {
  const parts = token.split(".");
  const s = parts[part];
  const i = Math.floor(s.length / 2);
  parts[part] = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  return parts.join(".");
}

/** A payload with `sub` swapped for another account's, re-encoded, the signature kept. */
function forgedSub(token, sub) {
  const [header, payload, signature] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  const forged = Buffer.from(JSON.stringify({ ...claims, sub }), "utf8").toString("base64url");
  return [header, forged, signature].join(".");
}

describe("access tokens of one minute (ACCESS_TOKEN_TTL_SECS=60)", () => {
  test("a login then a refresh through the client, each access token verified offline with jose", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "ava" });
    const c = createClient({ baseURL: server.baseURL, wx, now: () => clock });

    const login = await c.login();
    assert.equal(login.expiresIn, 60);
    assert.ok(login.refreshExpiresIn > 60);
    const first = await verify(login.token);
    assert.equal(first.protectedHeader.typ, "at+jwt");
    assert.ok(["EdDSA", "ES256"].includes(first.protectedHeader.alg));
    assert.equal(typeof first.protectedHeader.kid, "string");
    assert.equal(first.payload.sub, login.userInfo.id);
    assert.equal(typeof first.payload.sid, "string");
    assert.equal(first.payload.exp - first.payload.iat, 60);
    assert.ok(!JSON.stringify(first.payload).match(/openid|unionid|session_?key/i));

    // Half the minute gone: the next request refreshes first (one refresh for all three).
    clock += 30_000;
    const answers = await Promise.all([c.me(), c.me(), c.request({ url: "/api/me" })]);
    assert.equal(answers[0].id, login.userInfo.id);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 1, "no wx.login for a refresh");
    const kept = wx.storage.get(KEY);
    assert.notEqual(kept.refreshToken, login.refreshToken, "the spent refresh token is replaced");
    assert.equal(kept.token, c.token());
    assert.ok(wx.requestsTo("/api/me").every((r) => r.header.Authorization === `Bearer ${kept.token}`));

    const second = await verify(kept.token);
    assert.equal(second.payload.sub, first.payload.sub);
    assert.equal(second.payload.sid, first.payload.sid, "the same session");
    assert.equal(decodeProtectedHeader(kept.token).kid, second.protectedHeader.kid);
  });

  test("a tampered access token fails offline verification", async () => {
    const wx = fakeWx({ person: "bo" });
    const c = createClient({ baseURL: server.baseURL, wx });
    const { token, userInfo } = await c.login();
    await verify(token);
    const other = (await createClient({ baseURL: server.baseURL, wx: fakeWx({ person: "cy" }) }).login()).userInfo.id;
    assert.notEqual(other, userInfo.id);
    for (const bad of [forgedSub(token, other), tampered(token, 1), tampered(token, 2), `${token.split(".").slice(0, 2).join(".")}.`]) {
      await assert.rejects(verify(bad), (e) => typeof e.code === "string" && e.code.startsWith("ERR_"), bad);
    }
    // The server refuses it as well.
    const res = await fetch(`${server.baseURL}/api/me`, { headers: { Authorization: `Bearer ${forgedSub(token, other)}` } });
    assert.equal(res.status, 401);
  });

  test("a refresh token replayed after three refreshes ends the session, and the client logs in again once", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "dan" });
    const c = createClient({ baseURL: server.baseURL, wx, now: () => clock });
    const login = await c.login();
    for (let i = 0; i < 3; i++) {
      clock += 30_000;
      await c.me();
    }
    assert.equal(wx.requestsTo("/api/token/refresh").length, 3);

    // Someone replays the login's refresh token (stolen), three refreshes old, so neither an
    // answer lost on the way nor two refreshes crossing: the server ends the session.
    const stolen = await fetch(`${server.baseURL}/api/token/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: login.refreshToken }),
    });
    assert.equal(stolen.status, 401);
    assert.equal((await stolen.json()).error, "refresh_token_reused");

    // The client's access token is now refused (session_revoked): one login, no refresh.
    const me = await c.me();
    assert.equal(me.id, login.userInfo.id);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 3);
  });

  test("the client's refresh token refused by the server (refresh_token_invalid) is one login", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "eli" });
    const c = createClient({ baseURL: server.baseURL, wx, now: () => clock });
    await c.login();
    const kept = wx.storage.get(KEY);
    wx.storage.set(KEY, { ...kept, refreshToken: "r1.not-a-real-one" });
    clock += 30_000;
    await c.me();
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 2);
  });
});
