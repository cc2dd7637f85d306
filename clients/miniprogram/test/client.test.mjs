// The client against the real wxlogin-server (dev mode) over real HTTP, with a fake `wx` that
// records its calls.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, isWxLoginError, WxLoginError } from "../dist/esm/index.js";
import { fakeWx } from "./fakes.mjs";
import { startServer } from "./server.mjs";

const KEY = "wxlogin:v1:token";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function client(wx, extra = {}) {
  return createClient({ baseURL: server.baseURL, wx, ...extra });
}

/** Ends a token's session from outside this client (another tab, an operator, a merge). */
async function revoke(token) {
  const res = await fetch(`${server.baseURL}/api/logout`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 204);
}

async function statusWith(token) {
  const res = await fetch(`${server.baseURL}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  return res.status;
}

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

describe("logging in", () => {
  test("a login stores the access and refresh tokens under one namespaced, versioned key, and nothing else", async () => {
    const wx = fakeWx({ person: "ann" });
    const c = client(wx);
    const answer = await c.login();
    assert.equal(answer.userExist, false);
    assert.equal(answer.tokenType, "Bearer");
    assert.equal(typeof answer.refreshToken, "string");
    assert.ok(answer.refreshExpiresIn >= answer.expiresIn);
    assert.deepEqual([...wx.storage.keys()], [KEY]);
    const kept = wx.storage.get(KEY);
    assert.deepEqual(Object.keys(kept).sort(), ["expiresAt", "issuedAt", "refreshExpiresAt", "refreshToken", "token"]);
    assert.equal(kept.token, answer.token);
    assert.equal(kept.refreshToken, answer.refreshToken);
    assert.equal(kept.expiresAt - kept.issuedAt, answer.expiresIn * 1000);
    assert.equal(kept.refreshExpiresAt - kept.issuedAt, answer.refreshExpiresIn * 1000);
    assert.equal(c.token(), answer.token);
    assert.ok(!JSON.stringify([...wx.storage]).match(/openid|session_?key|unionid/i));
  });

  test("a request without a token logs in first and sends the token as Bearer", async () => {
    const wx = fakeWx({ person: "ben" });
    const me = await client(wx).me();
    assert.equal(wx.calls.login.length, 1);
    const [login, get] = wx.calls.request;
    assert.equal(login.path, "/api/login");
    assert.equal(get.path, "/api/me");
    assert.equal(get.header.Authorization, `Bearer ${wx.storage.get(KEY).token}`);
    assert.equal(typeof me.id, "string");
  });

  test("however many requests wait, one wx.login and one POST /api/login serve them all", async () => {
    const wx = fakeWx({ person: "cai" });
    const c = client(wx);
    const answers = await Promise.all(Array.from({ length: 10 }, () => c.request({ url: "/api/me" })));
    assert.ok(answers.every((a) => a.statusCode === 200));
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/login").length, 1);
    assert.equal(wx.requestsTo("/api/me").length, 10);
  });

  test("the body's appid names the mini program when one is given", async () => {
    const wx = fakeWx({ person: "dev" });
    const appid = (await client(wx).login()).userInfo.apps[0];
    const named = fakeWx({ person: "dev" });
    await client(named, { appid }).login();
    assert.equal(named.requestsTo("/api/login")[0].data.appid, appid);
    assert.deepEqual([...named.storage.keys()], [`${KEY}:${appid}`]);
  });
});

describe("a session that ends", () => {
  test("a revoked session under ten parallel requests is one login, each request replayed once", async () => {
    const wx = fakeWx({ person: "eve" });
    const c = client(wx);
    const first = (await c.login()).token;
    await revoke(first);
    const answers = await Promise.all(Array.from({ length: 10 }, () => c.me()));
    assert.equal(new Set(answers.map((u) => u.id)).size, 1);
    assert.equal(wx.calls.login.length, 2, "the first login and one more");
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(wx.requestsTo("/api/me").length, 20, "each sent once, replayed once");
    assert.notEqual(c.token(), first);
  });

  test("a token the device knows has expired is refreshed, once, before any request goes out, with no wx.login", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "fay" });
    const c = client(wx, { now: () => clock });
    const first = await c.login();
    clock += first.expiresIn * 1000;
    await Promise.all(Array.from({ length: 5 }, () => c.me()));
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.requestsTo("/api/me").length, 5);
    assert.ok(wx.requestsTo("/api/me").every((r) => r.header.Authorization !== `Bearer ${first.token}`));
    assert.notEqual(wx.storage.get(KEY).refreshToken, first.refreshToken);
  });

  test("a token the device knows has expired, stored by an older version without a refresh token, is replaced by a login", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "fay" });
    const c = client(wx, { now: () => clock });
    const first = await c.login();
    wx.storage.set(KEY, { token: first.token, expiresAt: clock + first.expiresIn * 1000 });
    clock += first.expiresIn * 1000;
    await Promise.all(Array.from({ length: 5 }, () => c.me()));
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 0);
    assert.ok(wx.requestsTo("/api/me").every((r) => r.header.Authorization !== `Bearer ${first.token}`));
  });

  test("a second 401 after a fresh login is the caller's error, not another login", async () => {
    const wx = fakeWx({
      person: "gus",
      answer: (r) =>
        r.path === "/api/orders"
          ? { statusCode: 401, data: { code: 401, error: "token_invalid", msg: "not for this route" } }
          : undefined,
    });
    const c = client(wx);
    const e = await rejection(c.request({ url: "/api/orders" }));
    assert.ok(isWxLoginError(e, "token_invalid"));
    assert.equal(e.statusCode, 401);
    assert.equal(wx.calls.login.length, 2, "the first login, one more, and no loop");
    assert.equal(wx.requestsTo("/api/orders").length, 2);
  });
});

describe("errors", () => {
  test("a refused code gets one fresh code, then the error", async () => {
    const wx = fakeWx({ code: () => "invalid" });
    const e = await rejection(client(wx).login());
    assert.ok(e instanceof WxLoginError);
    assert.equal(e.error, "invalid_code");
    assert.equal(e.statusCode, 400);
    assert.equal(typeof e.msg, "string");
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(wx.storage.size, 0);
  });

  for (const [code, status, kind] of [
    ["risky", 403, "risky_user"],
    ["busy", 503, "wechat_unavailable"],
  ]) {
    test(`a login answered ${status} ${kind} is not retried`, async () => {
      const wx = fakeWx({ code: () => code });
      const e = await rejection(client(wx).request({ url: "/api/me" }));
      assert.ok(isWxLoginError(e, kind), String(e));
      assert.equal(e.statusCode, status);
      assert.equal(wx.calls.login.length, 1);
      assert.equal(wx.requestsTo("/api/me").length, 0);
    });
  }

  test("403, 429 and 5xx answers of a route never start a login", async () => {
    for (const [status, kind] of [
      [403, "reauth_failed"],
      [429, "rate_limited"],
      [502, "wechat_error"],
      [503, "unavailable"],
    ]) {
      const wx = fakeWx({
        person: "hal",
        answer: (r) =>
          r.path === "/api/thing" ? { statusCode: status, data: { code: status, error: kind, msg: kind } } : undefined,
      });
      const c = client(wx);
      await c.login();
      const e = await rejection(c.request({ url: "/api/thing", method: "POST", data: {} }));
      assert.ok(isWxLoginError(e, kind), String(e));
      assert.equal(wx.calls.login.length, 1, kind);
      assert.ok(c.token(), "the token is kept");
    }
  });

  test("a network error is network_error and never starts a login", async () => {
    const seeded = fakeWx({ person: "ida" });
    await client(seeded).login();
    const wx = fakeWx({ person: "ida" });
    wx.storage.set(KEY, seeded.storage.get(KEY));
    const offline = createClient({ baseURL: "http://127.0.0.1:9", wx });
    const e = await rejection(offline.me());
    assert.ok(isWxLoginError(e, "network_error"), String(e));
    assert.equal(e.statusCode, undefined);
    assert.equal(wx.calls.login.length, 0);
    assert.ok(offline.token(), "the token is kept");
  });

  test("an answer that is not the server's is bad_response", async () => {
    const wx = fakeWx({
      person: "jan",
      answer: (r) => (r.path === "/api/html" ? { statusCode: 500, data: "<html>oops</html>" } : undefined),
    });
    const e = await rejection(client(wx).request({ url: "/api/html" }));
    assert.ok(isWxLoginError(e, "bad_response"), String(e));
    assert.equal(e.statusCode, 500);
  });

  test("a url outside baseURL is refused: the token goes nowhere else", async () => {
    const wx = fakeWx({ person: "kim" });
    const e = await rejection(client(wx).request({ url: "https://evil.example/steal" }));
    assert.ok(isWxLoginError(e, "invalid_url"));
    assert.ok(wx.calls.request.every((r) => r.url.startsWith(server.baseURL)));
  });

  test("wx.login is called at most four times a second, however often logins are asked for", async () => {
    let clock = 1_000_000;
    const wx = fakeWx({ person: "lea", now: () => clock });
    const c = client(wx, {
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    for (let i = 0; i < 10; i++) {
      await c.login();
    }
    const times = wx.calls.login;
    assert.equal(times.length, 10);
    for (let i = 0; i + 4 < times.length; i++) {
      assert.ok(times[i + 4] - times[i] >= 1000, `calls ${i} and ${i + 4}: ${times[i + 4] - times[i]} ms apart`);
    }
  });
});

describe("logout and deletion", () => {
  test("logout ends the session on the server and removes the token", async () => {
    const wx = fakeWx({ person: "max" });
    const c = client(wx);
    const token = (await c.login()).token;
    await c.logout();
    assert.equal(wx.storage.size, 0);
    assert.equal(c.token(), null);
    assert.equal(await statusWith(token), 401);
    await c.logout(); // without a token: nothing to do, no error, no login
    assert.equal(wx.calls.login.length, 1);
  });

  test("logout everywhere ends the sessions of the account's other devices too", async () => {
    const phone = fakeWx({ person: "ned" });
    const tablet = fakeWx({ person: "ned" });
    const onPhone = client(phone);
    const onTablet = client(tablet);
    await onPhone.login();
    const tabletToken = (await onTablet.login()).token;
    await onPhone.logout({ everywhere: true });
    assert.equal(await statusWith(tabletToken), 401);
    await onTablet.me(); // the tablet logs in again by itself
    assert.equal(tablet.calls.login.length, 2);
  });

  test("deleting the account re-authenticates with a fresh code, deletes, and forgets the token", async () => {
    const wx = fakeWx({ person: "oli" });
    const c = client(wx);
    const before = await c.login();
    await c.deleteAccount();
    assert.equal(wx.storage.size, 0);
    assert.equal(wx.calls.login.length, 2, "one more code, for the re-authentication");
    assert.equal(wx.requestsTo("/api/me")[0].method, "DELETE");
    assert.equal(await statusWith(before.token), 401);
    const after = await c.login();
    assert.equal(after.userExist, false);
    assert.notEqual(after.userInfo.id, before.userInfo.id);
  });

  test("a code of someone else cannot delete the account", async () => {
    let person = "pia";
    const wx = fakeWx({ code: () => `${person}.${Math.random()}` });
    const c = client(wx);
    await c.login();
    person = "quinn";
    const e = await rejection(c.deleteAccount());
    assert.ok(isWxLoginError(e, "reauth_failed"), String(e));
    assert.equal(e.statusCode, 403);
    person = "pia";
    assert.equal((await c.me()).id.length > 0, true, "the account is still there");
  });
});

describe("WeChat's user data", () => {
  async function userInfoOf(code) {
    const res = await fetch(`${server.fakeURL}/fake/userinfo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code, nickName: "小明", avatarUrl: "https://thirdwx.qlogo.cn/x/132", gender: 1 }),
    });
    assert.equal(res.status, 200);
    return res.json();
  }

  test("user info is sent after checkSession and with no wx.login in between", async () => {
    const wx = fakeWx({ person: "rui" });
    const c = client(wx);
    await c.login();
    const data = await userInfoOf(wx.calls.codes.at(-1));
    const logins = wx.calls.login.length;
    const user = await c.sendUserInfo(data);
    assert.equal(user.nickName, "小明");
    assert.equal(user.gender, 1);
    assert.equal(wx.calls.checkSession, 1);
    assert.equal(wx.calls.login.length, logins);
  });

  test("checkSession is called by sendUserInfo only, never per request", async () => {
    const wx = fakeWx({ person: "sol" });
    const c = client(wx);
    await Promise.all([c.me(), c.me(), c.request({ url: "/api/me" })]);
    await c.logout();
    assert.equal(wx.calls.checkSession, 0);
  });

  test("data got under an ended WeChat session is refused before sending, and a new login made", async () => {
    const wx = fakeWx({ person: "tao" });
    const c = client(wx);
    await c.login();
    const data = await userInfoOf(wx.calls.codes.at(-1));
    wx.expireWeChatSession();
    const e = await rejection(c.sendUserInfo(data));
    assert.ok(isWxLoginError(e, "session_key_stale"), String(e));
    assert.equal(wx.requestsTo("/api/me/userinfo").length, 0);
    assert.equal(wx.calls.login.length, 2, "logged in again for the next try");
  });

  test("a phone number code binds the number", async () => {
    const wx = fakeWx({ person: "uma" });
    const user = await client(wx).sendPhoneNumber({ code: "13800138000", errMsg: "getPhoneNumber:ok" });
    assert.equal(user.phoneNumber, "13800138000");
    const e = await rejection(client(wx).sendPhoneNumber({ errMsg: "getPhoneNumber:fail user deny" }));
    assert.ok(isWxLoginError(e, "invalid_code"));
  });
});
