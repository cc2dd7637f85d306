// Refreshing, with no server: the fake `wx`'s `answer` plays a small wxlogin (logins, refreshes
// with rotating refresh tokens, one protected route) so that each test can make the server
// refuse, fail or expire exactly what it needs, and the device's clock is the test's.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient, isWxLoginError } from "../dist/esm/index.js";
import { fakeWx } from "./fakes.mjs";

const KEY = "wxlogin:v1:token";
const BASE = "http://wxlogin.test";
const HOUR = 3600 * 1000;

const error = (statusCode, kind) => ({ statusCode, data: { code: statusCode, error: kind, msg: kind } });

/**
 * A fake wxlogin. Access tokens are `at-<n>`, refresh tokens `rt-<n>`; `expire(token)` makes
 * the server refuse a token with `token_expired` whatever the device's clock says;
 * `refreshAnswer(request)` may answer a refresh instead (to refuse or fail it).
 */
function fakeServer({ expiresIn = 7200, refreshExpiresIn = 604800 } = {}) {
  let serial = 0;
  let currentRefresh = null;
  const live = new Set();
  const expired = new Set();
  const server = {
    refreshAnswer: undefined,
    expire(token) {
      expired.add(token);
    },
    issue() {
      serial += 1;
      const token = `at-${serial}`;
      live.add(token);
      currentRefresh = `rt-${serial}`;
      return { token, tokenType: "Bearer", expiresIn, expiresAt: "", refreshToken: currentRefresh, refreshExpiresIn };
    },
    answer(r) {
      if (r.path === "/api/login") {
        return { statusCode: 200, data: { ...server.issue(), userExist: true, userInfo: { id: "u1" } } };
      }
      if (r.path === "/api/token/refresh") {
        const instead = server.refreshAnswer?.(r);
        if (instead) {
          return instead;
        }
        if (r.data?.refreshToken !== currentRefresh) {
          return error(401, "refresh_token_invalid");
        }
        return { statusCode: 200, data: server.issue() };
      }
      const token = r.header.Authorization?.replace(/^Bearer /, "");
      if (expired.has(token)) {
        return error(401, "token_expired");
      }
      if (!live.has(token)) {
        return error(401, "token_invalid");
      }
      if (r.path === "/api/logout") {
        live.delete(token);
        return { statusCode: 204, data: "" };
      }
      return { statusCode: 200, data: { token } };
    },
  };
  return server;
}

/** A client, its fake `wx` and fake server, and a clock the test moves. */
function setup(options = {}) {
  const server = fakeServer(options);
  const clock = { now: 1_000_000_000_000 };
  const wx = fakeWx({ person: "rex", answer: (r) => server.answer(r), now: () => clock.now });
  const client = createClient({ baseURL: BASE, wx, now: () => clock.now });
  const sent = (path) => wx.requestsTo(path).map((r) => r.header.Authorization?.replace(/^Bearer /, ""));
  return { server, clock, wx, client, sent };
}

/** Makes `wx.request` fail (no answer) for the requests `when` picks. */
function failRequests(wx, when) {
  const request = wx.request;
  wx.request = (o) => {
    if (when(o)) {
      wx.calls.request.push({ url: o.url, path: new URL(o.url).pathname, method: o.method, header: o.header, data: o.data });
      setTimeout(() => o.fail({ errMsg: "request:fail timeout" }), 0);
      return;
    }
    request(o);
  };
}

const parallel = (n, fn) => Promise.all(Array.from({ length: n }, fn));

describe("the refresh token (fakes)", () => {
  test("a login keeps the refresh token beside the access token, and logout forgets both", async () => {
    const { wx, client, clock } = setup();
    await client.login();
    assert.deepEqual(wx.storage.get(KEY), {
      token: "at-1",
      expiresAt: clock.now + 7200 * 1000,
      issuedAt: clock.now,
      refreshToken: "rt-1",
      refreshExpiresAt: clock.now + 604800 * 1000,
    });
    await client.logout();
    assert.equal(wx.storage.size, 0);
    assert.equal(client.token(), null);
  });

  test("a token not yet due is sent as it is; once less than 12 minutes (10 % of 2 h) are left, it is refreshed first", async () => {
    const { client, clock, sent, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR - 12 * 60 * 1000 - 1;
    await client.request({ url: "/api/thing" });
    assert.equal(wx.requestsTo("/api/token/refresh").length, 0);
    clock.now += 1;
    await client.request({ url: "/api/thing" });
    assert.deepEqual(sent("/api/token/refresh"), [undefined], "the refresh is sent without the access token");
    assert.deepEqual(wx.requestsTo("/api/token/refresh")[0].data, { refreshToken: "rt-1" });
    assert.deepEqual(sent("/api/thing"), ["at-1", "at-2"]);
    assert.equal(wx.storage.get(KEY).refreshToken, "rt-2", "the spent refresh token is replaced");
    assert.equal(wx.calls.login.length, 1);
  });

  test("a token that lives one minute is refreshed after half its life, not on every request", async () => {
    const { client, clock, sent } = setup({ expiresIn: 60 });
    await client.login();
    clock.now += 29_000;
    await client.request({ url: "/api/thing" });
    clock.now += 1_000;
    await client.request({ url: "/api/thing" });
    await client.request({ url: "/api/thing" });
    assert.deepEqual(sent("/api/thing"), ["at-1", "at-2", "at-2"]);
  });

  test("ten requests that find the token due make one refresh and no login", async () => {
    const { client, clock, sent, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR - 60_000;
    await parallel(10, () => client.request({ url: "/api/thing" }));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.deepEqual(sent("/api/thing"), Array(10).fill("at-2"));
    assert.equal(wx.calls.login.length, 1);
  });

  test("ten requests answered token_expired make one refresh, each replayed once with the new token", async () => {
    const { server, client, sent, wx } = setup();
    await client.login();
    server.expire("at-1"); // the device's clock says it lives; the server knows better
    const answers = await parallel(10, () => client.request({ url: "/api/thing" }));
    assert.ok(answers.every((a) => a.data.token === "at-2"));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.deepEqual(sent("/api/thing").sort(), [...Array(10).fill("at-1"), ...Array(10).fill("at-2")]);
    assert.equal(wx.calls.login.length, 1);
  });

  test("a refresh refused with refresh_token_reused drops the tokens and logs in once with wx.login", async () => {
    const { server, client, sent, wx } = setup();
    await client.login();
    server.expire("at-1");
    server.refreshAnswer = () => error(401, "refresh_token_reused");
    const answers = await parallel(5, () => client.request({ url: "/api/thing" }));
    assert.ok(answers.every((a) => a.data.token === "at-2"));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 2, "the first login and one more");
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(sent("/api/thing").length, 10);
    assert.equal(wx.storage.get(KEY).refreshToken, "rt-2", "the login's tokens replace the refused ones");
  });

  for (const kind of ["refresh_token_invalid", "session_revoked", "token_expired"]) {
    test(`a refresh due before sending, refused with ${kind}, is one login`, async () => {
      const { server, client, clock, sent, wx } = setup();
      await client.login();
      clock.now += 2 * HOUR;
      server.refreshAnswer = () => error(401, kind);
      await parallel(3, () => client.request({ url: "/api/thing" }));
      assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
      assert.equal(wx.calls.login.length, 2);
      assert.deepEqual(sent("/api/thing"), Array(3).fill("at-2"));
    });
  }

  test("a refresh answered 503 keeps the tokens, rejects with unavailable and never logs in", async () => {
    const { server, client, wx } = setup();
    await client.login();
    const kept = wx.storage.get(KEY);
    server.expire("at-1");
    server.refreshAnswer = () => error(503, "unavailable");
    const errors = await Promise.allSettled([1, 2, 3].map(() => client.request({ url: "/api/thing" })));
    for (const e of errors) {
      assert.equal(e.status, "rejected");
      assert.ok(isWxLoginError(e.reason, "unavailable"), String(e.reason));
      assert.equal(e.reason.statusCode, 503);
    }
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 1);
    assert.deepEqual(wx.storage.get(KEY), kept, "the tokens are kept for the next try");

    server.refreshAnswer = undefined;
    assert.equal((await client.request({ url: "/api/thing" })).data.token, "at-2", "the next request refreshes");
    assert.equal(wx.calls.login.length, 1);
  });

  test("a refresh with no answer, for a token that has expired, rejects with network_error and never logs in", async () => {
    const { client, clock, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR;
    failRequests(wx, (o) => o.url.endsWith("/api/token/refresh"));
    await assert.rejects(client.request({ url: "/api/thing" }), (e) => isWxLoginError(e, "network_error"));
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/thing").length, 0);
    assert.equal(wx.storage.get(KEY).refreshToken, "rt-1");
  });

  test("a refresh that fails while the token still lives sends the request with that token", async () => {
    const { server, client, clock, sent, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR - 60_000;
    server.refreshAnswer = () => error(503, "unavailable");
    await client.request({ url: "/api/thing" });
    assert.deepEqual(sent("/api/thing"), ["at-1"]);
    assert.equal(wx.calls.login.length, 1);
  });

  test("never a loop: a request refused again after its refresh is the caller's error", async () => {
    const { server, client, wx } = setup();
    await client.login();
    // Every token expires as soon as it is issued.
    const issue = server.issue;
    server.issue = () => {
      const pair = issue();
      server.expire(pair.token);
      return pair;
    };
    server.expire("at-1");
    await assert.rejects(client.request({ url: "/api/thing" }), (e) => isWxLoginError(e, "token_expired"));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.requestsTo("/api/thing").length, 2);
    assert.equal(wx.calls.login.length, 1);
  });

  test("never a loop: a refused refresh and a login whose token is refused too end in the error", async () => {
    const { server, client, wx } = setup();
    await client.login();
    server.refreshAnswer = () => error(401, "refresh_token_reused");
    const issue = server.issue;
    server.issue = () => {
      const pair = issue();
      server.expire(pair.token);
      return pair;
    };
    server.expire("at-1");
    await assert.rejects(client.request({ url: "/api/thing" }), (e) => isWxLoginError(e, "token_expired"));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/thing").length, 2);
  });

  test("tokens stored by an older version (no refresh token) are used until they expire, then a login", async () => {
    const { server, client, clock, sent, wx } = setup();
    const old = server.issue().token;
    wx.storage.set(KEY, { token: old, expiresAt: clock.now + HOUR });
    await client.request({ url: "/api/thing" });
    clock.now += HOUR;
    await client.request({ url: "/api/thing" });
    assert.deepEqual(sent("/api/thing"), ["at-1", "at-2"]);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 0);
    assert.equal(wx.calls.login.length, 1);
  });

  test("a session over on the device (refresh token expired too) is a login, with no refresh", async () => {
    const { client, clock, wx } = setup({ expiresIn: 60, refreshExpiresIn: 120 });
    await client.login();
    clock.now += 120_000;
    await client.request({ url: "/api/thing" });
    assert.equal(wx.requestsTo("/api/token/refresh").length, 0);
    assert.equal(wx.calls.login.length, 2);
  });

  test("logout with an expired access token refreshes it first, never logs in, and forgets both tokens", async () => {
    const { client, clock, sent, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR;
    await client.logout();
    assert.deepEqual(sent("/api/logout"), ["at-2"]);
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.storage.size, 0);
  });

  test("a refresh answer that arrives after a logout is not stored", async () => {
    const { client, clock, wx } = setup();
    await client.login();
    clock.now += 2 * HOUR - 60_000;
    let release;
    const held = new Promise((resolve) => (release = resolve));
    const request = wx.request;
    wx.request = (o) => {
      if (o.url.endsWith("/api/token/refresh")) {
        held.then(() => request(o));
        return;
      }
      request(o);
    };
    const pending = client.request({ url: "/api/thing" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    wx.storage.delete(KEY); // what logout leaves
    release();
    assert.equal((await pending).data.token, "at-2", "the request that waited is served");
    assert.equal(wx.storage.size, 0);
  });
});
