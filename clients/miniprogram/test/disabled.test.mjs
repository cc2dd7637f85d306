// A banned account, with no server: the fake `wx`'s `answer` plays a small wxlogin that, once
// `ban()`ned, answers logins and refreshes `403 account_disabled` and requests with the
// account's tokens `401 session_revoked` (its sessions are ended). The client must take
// account_disabled as final: every call under way rejects with it, no wx.login or refresh
// after it, the tokens removed; only a call the app makes afterwards tries again.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createClient, isWxLoginError } from "../dist/esm/index.js";
import { fakeWx } from "./fakes.mjs";

const KEY = "wxlogin:v1:token";
const BASE = "http://wxlogin.test";
const HOUR = 3600 * 1000;

const error = (statusCode, kind, text = "msg") => ({
  statusCode,
  data: { code: statusCode, error: kind, [text]: `${kind}, for people` },
});

/**
 * A fake wxlogin. Access tokens are `at-<n>`, refresh tokens `rt-<n>`. While `banned`, a
 * login and a refresh are answered 403 account_disabled (`disabledBody` picks where its text
 * goes) and every request 401 session_revoked; `expire(token)` answers that token 401
 * token_expired instead.
 */
function fakeServer() {
  let serial = 0;
  let currentRefresh = null;
  const live = new Set();
  const expired = new Set();
  const server = {
    banned: false,
    disabledText: "msg",
    /** An invalid_code answer for the next login, before anything else. */
    refuseNextCode: false,
    ban() {
      server.banned = true;
      live.clear();
    },
    expire(token) {
      expired.add(token);
    },
    issue() {
      serial += 1;
      const token = `at-${serial}`;
      live.add(token);
      currentRefresh = `rt-${serial}`;
      return { token, tokenType: "Bearer", expiresIn: 7200, expiresAt: "", refreshToken: currentRefresh, refreshExpiresIn: 604800 };
    },
    answer(r) {
      if (r.path === "/api/login") {
        if (server.refuseNextCode) {
          server.refuseNextCode = false;
          return error(400, "invalid_code");
        }
        if (server.banned) {
          return error(403, "account_disabled", server.disabledText);
        }
        return { statusCode: 200, data: { ...server.issue(), userExist: true, userInfo: { id: "u1" } } };
      }
      if (r.path === "/api/token/refresh") {
        if (server.banned) {
          return error(403, "account_disabled", server.disabledText);
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
      if (server.banned) {
        return error(401, "session_revoked");
      }
      if (!live.has(token)) {
        return error(401, "token_invalid");
      }
      return { statusCode: 200, data: { token } };
    },
  };
  return server;
}

/** A client, its fake `wx` and fake server, and a clock the test moves. */
function setup() {
  const server = fakeServer();
  const clock = { now: 1_000_000_000_000 };
  const wx = fakeWx({ person: "mallory", answer: (r) => server.answer(r), now: () => clock.now });
  const client = createClient({ baseURL: BASE, wx, now: () => clock.now });
  return { server, clock, wx, client };
}

/**
 * Holds the first `n` requests to `path` until the test releases them (`held[i]()`), in its
 * order; the others go through.
 */
function hold(wx, path, n) {
  const held = [];
  const request = wx.request;
  wx.request = (o) => {
    if (new URL(o.url).pathname === path && held.length < n) {
      held.push(() => request(o));
      return;
    }
    request(o);
  };
  return held;
}

const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition) {
  for (let i = 0; i < 1000 && !condition(); i++) {
    await tick();
  }
  assert.ok(condition(), "timed out");
}

/** Asserts that every outcome rejected with account_disabled (403). */
function allDisabled(outcomes) {
  for (const o of outcomes) {
    assert.equal(o.status, "rejected");
    assert.ok(isWxLoginError(o.reason, "account_disabled"), String(o.reason));
    assert.equal(o.reason.statusCode, 403);
  }
}

const settle = (promises) => Promise.allSettled(promises);
const parallel = (n, fn) => Array.from({ length: n }, fn);

describe("account_disabled (fakes)", () => {
  test("N requests waiting on one login answered 403 account_disabled all reject with it, after one wx.login; the tokens are removed", async () => {
    const { server, clock, wx, client } = setup();
    // An expired token, kept by an older version: the requests must log in.
    wx.storage.set(KEY, { token: "at-old", expiresAt: clock.now - 1 });
    server.ban();
    const outcomes = await settle(parallel(8, () => client.request({ url: "/api/thing" })));
    allDisabled(outcomes);
    assert.equal(outcomes.length, 8);
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/login").length, 1);
    assert.equal(wx.requestsTo("/api/thing").length, 0);
    assert.equal(wx.storage.size, 0, "the tokens are removed");
    await tick(20);
    assert.equal(wx.calls.login.length, 1, "nothing retried behind the caller's back");
  });

  test("N requests under way, each answered 401 session_revoked, most after the login's 403 came: all reject with account_disabled after one wx.login", async () => {
    const { server, wx, client } = setup();
    await client.login();
    server.ban();
    const held = hold(wx, "/api/thing", 5);
    const pending = parallel(5, () => client.request({ url: "/api/thing" }));
    await until(() => held.length === 5);
    held[0]();
    allDisabled(await settle([pending[0]]));
    assert.equal(wx.calls.login.length, 2, "the first login and the one the first 401 made");
    for (const release of held.slice(1)) {
      release();
    }
    allDisabled(await settle(pending));
    assert.equal(wx.calls.login.length, 2, "no wx.login after account_disabled");
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(wx.requestsTo("/api/thing").length, 5, "none replayed");
    assert.equal(wx.storage.size, 0);
  });

  test("a request answered 401 session_revoked after a refresh was answered 403 account_disabled: rejects with it, no wx.login, the tokens removed", async () => {
    const { server, clock, wx, client } = setup();
    await client.login();
    server.ban();
    const held = hold(wx, "/api/thing", 1);
    const first = client.request({ url: "/api/thing" }); // sent with at-1, answered later
    await until(() => held.length === 1);
    clock.now += 2 * HOUR - 60_000; // at-1 is due: the next request refreshes first
    allDisabled(await settle([client.request({ url: "/api/thing" })]));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.storage.size, 0, "the tokens are removed");
    held[0](); // the first request's answer: 401 session_revoked
    allDisabled(await settle([first]));
    assert.equal(wx.calls.login.length, 1, "only the first login: none after account_disabled");
    assert.equal(wx.requestsTo("/api/login").length, 1);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1, "no second refresh");
    assert.equal(wx.requestsTo("/api/thing").length, 1);
    assert.equal(wx.storage.size, 0);
  });

  test("requests whose token is due, refreshed and answered 403 account_disabled, are never sent with the revoked token nor log in", async () => {
    const { server, clock, wx, client } = setup();
    await client.login();
    server.ban();
    clock.now += 2 * HOUR - 60_000; // due, but alive on the device's clock
    allDisabled(await settle(parallel(3, () => client.request({ url: "/api/thing" }))));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.requestsTo("/api/thing").length, 0, "not sent with the banned account's token");
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.storage.size, 0);
  });

  test("401 token_expired, then the refresh answered 403 account_disabled: rejects with it, no login, the tokens removed", async () => {
    const { server, wx, client } = setup();
    await client.login();
    server.ban();
    server.expire("at-1");
    allDisabled(await settle(parallel(3, () => client.request({ url: "/api/thing" }))));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/thing").length, 3, "each sent once, none replayed");
    assert.equal(wx.storage.size, 0, "the tokens are removed");
  });

  test("a request answered 401 session_revoked logs in once (a revoked session is not refreshed); the login's 403 account_disabled ends it", async () => {
    const { server, wx, client } = setup();
    await client.login();
    server.ban();
    allDisabled(await settle([client.request({ url: "/api/thing" })]));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 0);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/thing").length, 1);
    assert.equal(wx.storage.size, 0);
  });

  test("a login answered 403 account_disabled is not retried and removes the tokens; the app's next call tries again", async () => {
    const { server, clock, wx, client } = setup();
    await client.login();
    clock.now += 8 * 24 * HOUR; // the session is over on the device too: a login is needed
    server.ban();
    const e = await client.login().then(
      () => assert.fail("resolved"),
      (e) => e,
    );
    assert.ok(isWxLoginError(e, "account_disabled"), String(e));
    assert.equal(e.statusCode, 403);
    assert.equal(e.msg, "account_disabled, for people");
    await tick(20);
    assert.equal(wx.calls.login.length, 2, "the first login and this one, not retried");
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(wx.storage.size, 0, "the tokens are removed");
    assert.equal(client.token(), null);

    // Still banned: a new call by the app is one more try, and one only.
    allDisabled(await settle([client.request({ url: "/api/thing" })]));
    assert.equal(wx.calls.login.length, 3);

    // Unbanned: the next call logs in and is served.
    server.banned = false;
    assert.deepEqual((await client.request({ url: "/api/thing" })).data, { token: "at-2" });
    assert.equal(wx.calls.login.length, 4);
    assert.equal(client.token(), "at-2");
  });

  test("a login answered invalid_code gets one fresh code; a 403 account_disabled to that one is not retried", async () => {
    const { server, wx, client } = setup();
    server.ban();
    server.refuseNextCode = true;
    allDisabled(await settle([client.request({ url: "/api/thing" })]));
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/login").length, 2);
  });

  test('account_disabled with its text in "message" instead of "msg" is still account_disabled', async () => {
    const { server, wx, client } = setup();
    server.ban();
    server.disabledText = "message";
    const [outcome] = await settle([client.login()]);
    allDisabled([outcome]);
    assert.equal(outcome.reason.msg, "account_disabled, for people");
    assert.equal(wx.calls.login.length, 1);
  });

  test("a route answered 403 account_disabled removes the tokens and never logs in", async () => {
    const { wx, client } = setup();
    await client.login();
    const request = wx.request;
    wx.request = (o) =>
      new URL(o.url).pathname === "/api/thing"
        ? setTimeout(() => o.success({ header: {}, ...error(403, "account_disabled") }), 0)
        : request(o);
    allDisabled(await settle([client.request({ url: "/api/thing" })]));
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.storage.size, 0);
  });
});
