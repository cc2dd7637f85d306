// The client against servers configured for one behaviour each: sessions that expire in a
// second, a login limit of one a minute; and through the Taro and uni-app adapters.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, fromTaro, fromUni, isWxLoginError } from "../dist/esm/index.js";
import { fakeTaro, fakeUni, fakeWx } from "./fakes.mjs";
import { imageFiles } from "./images.mjs";
import { startServer } from "./server.mjs";

const files = imageFiles();
after(() => files.remove());

describe("sessions of one second (SESSION_TTL_SECS=1)", () => {
  let server;
  before(async () => {
    server = await startServer({ SESSION_TTL_SECS: "1" });
  });
  after(async () => {
    await server?.stop();
  });

  test("a session that expired on the server is one refused refresh, then one login for all waiting requests", async () => {
    // The device's clock stands still: only the server knows the session has expired, so each
    // request is sent and refused with token_expired; the one refresh they share is refused
    // (the session is over), and each is replayed once after one login.
    const frozen = Date.now();
    const wx = fakeWx({ person: "vic" });
    const c = createClient({ baseURL: server.baseURL, wx, now: () => frozen });
    const first = await c.login();
    assert.equal(first.expiresIn, 1);
    // The server accepts a token through the second its `exp` names (docs/api.md): wait
    // until that second is over.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const answers = await Promise.all(Array.from({ length: 8 }, () => c.request({ url: "/api/me" })));
    assert.ok(answers.every((a) => a.statusCode === 200));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.requestsTo("/api/login").length, 2);
    assert.equal(wx.requestsTo("/api/me").length, 16);
  });

  test("uploads refused with token_expired share the one refused refresh and one login, each replayed once", async () => {
    const frozen = Date.now();
    const wx = fakeWx({ person: "vik" });
    const c = createClient({ baseURL: server.baseURL, wx, now: () => frozen });
    await c.login();
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const users = await Promise.all([c.uploadAvatar(files.png), c.uploadAvatar(files.png), c.me()]);
    assert.ok(users.every((u) => typeof u.id === "string"));
    assert.ok(users.slice(0, 2).every((u) => typeof u.avatarUrl === "string"));
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(wx.uploadsTo("/api/me/avatar").length, 4);
  });
});

describe("a login limit of one a minute (LOGIN_RATE_LIMIT=1)", () => {
  let server;
  before(async () => {
    server = await startServer({ LOGIN_RATE_LIMIT: "1" });
  });
  after(async () => {
    await server?.stop();
  });

  test("429 rate_limited rejects and starts no other login", async () => {
    const wx = fakeWx({ person: "wen" });
    const c = createClient({ baseURL: server.baseURL, wx });
    await c.login();
    const token = c.token();
    await assert.rejects(c.login(), (e) => isWxLoginError(e, "rate_limited") && e.statusCode === 429);
    assert.equal(wx.calls.login.length, 2);
    assert.equal(c.token(), token, "the token of the earlier login is kept");
  });
});

describe("adapters", () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.stop();
  });

  test("fromTaro: Taro's calls, whose promises reject besides calling fail", async () => {
    const taro = fakeTaro({ person: "xia" });
    const c = createClient({ baseURL: server.baseURL, wx: fromTaro(taro) });
    const me = await c.me();
    assert.equal(typeof me.id, "string");
    assert.equal(taro.wx.calls.login.length, 1);
    const offline = createClient({ baseURL: "http://127.0.0.1:9", wx: fromTaro(fakeTaro()) });
    // A failed Taro.request rejects its own promise too: that must not become an unhandled
    // rejection (it would end this process), only this one.
    await assert.rejects(offline.login(), (e) => isWxLoginError(e, "network_error"));
    await c.logout();
    assert.equal(taro.wx.storage.size, 0);
  });

  test("fromTaro: Taro.uploadFile uploads the avatar; a failed one rejects once, as network_error", async () => {
    const taro = fakeTaro({ person: "xiu" });
    const c = createClient({ baseURL: server.baseURL, wx: fromTaro(taro) });
    const user = await c.uploadAvatar(files.png);
    assert.equal((await fetch(user.avatarUrl)).headers.get("content-type"), "image/jpeg");
    await assert.rejects(c.uploadAvatar(files.text), (e) => isWxLoginError(e, "invalid_image"));
    // Taro.uploadFile's promise rejects too when the upload fails: not an unhandled rejection.
    await assert.rejects(c.uploadAvatar(`${files.dir}/missing.png`), (e) => isWxLoginError(e, "network_error"));
    assert.equal(taro.wx.calls.login.length, 1);
  });

  test("fromUni: uni.login is asked for the weixin provider", async () => {
    const uni = fakeUni({ person: "yan" });
    const c = createClient({ baseURL: server.baseURL, wx: fromUni(uni) });
    const answer = await c.login();
    assert.equal(answer.userExist, false);
    assert.equal((await c.me()).id, answer.userInfo.id);
    assert.deepEqual([...uni.wx.storage.keys()], ["wxlogin:v1:token"]);
  });

  test("fromUni: uni.uploadFile uploads the avatar, and updateProfile sets the nickname", async () => {
    const uni = fakeUni({ person: "yue" });
    const c = createClient({ baseURL: server.baseURL, wx: fromUni(uni) });
    const user = await c.uploadAvatar(files.png);
    assert.equal(uni.wx.uploadsTo("/api/me/avatar")[0].name, "file");
    assert.equal((await fetch(user.avatarUrl)).status, 200);
    assert.equal((await c.updateProfile({ nickName: "悦" })).nickName, "悦");
    assert.equal(uni.wx.calls.login.length, 1);
  });
});
