// The profile the way WeChat offers it today: the avatar of a chooseAvatar button uploaded
// with `client.uploadAvatar` (through a fake `wx.uploadFile` that really POSTs the file on
// disk as multipart/form-data), and the nickname of an `<input type="nickname">` sent with
// `client.updateProfile`; against the real server in dev mode with WeChat's content security
// on (CONTENT_CHECK=on: the built-in fake finds a text with "risky" in it risky) and a small
// AVATAR_MAX_BYTES.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, isWxLoginError } from "../dist/esm/index.js";
import { fakeWx } from "./fakes.mjs";
import { imageFiles, SMALL_AVATAR_MAX_BYTES } from "./images.mjs";
import { startServer } from "./server.mjs";

const KEY = "wxlogin:v1:token";
const files = imageFiles();

let server;
before(async () => {
  server = await startServer({ CONTENT_CHECK: "on", AVATAR_MAX_BYTES: String(SMALL_AVATAR_MAX_BYTES) });
});
after(async () => {
  await server?.stop();
  files.remove();
});

function client(wx, extra = {}) {
  return createClient({ baseURL: server.baseURL, wx, ...extra });
}

async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("expected a rejection");
}

/** Ends a token's session from outside this client. */
async function revoke(token) {
  const res = await fetch(`${server.baseURL}/api/logout`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 204);
}

/** GETs an avatar the way an `<image src>` does. */
async function fetchAvatar(url) {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get("content-type"), bytes: Buffer.from(await res.arrayBuffer()) };
}

describe("the avatar: client.uploadAvatar(e.detail.avatarUrl)", () => {
  test("a chosen avatar goes through wx.uploadFile in the part `file` with the token, and is served as a JPEG", async () => {
    const wx = fakeWx({ person: "amy" });
    const c = client(wx);
    const user = await c.uploadAvatar(files.png);

    assert.equal(wx.calls.login.length, 1, "no token yet: logged in first");
    const [upload] = wx.uploadsTo("/api/me/avatar");
    assert.equal(upload.url, `${server.baseURL}/api/me/avatar`);
    assert.equal(upload.filePath, files.png);
    assert.equal(upload.name, "file");
    assert.deepEqual(upload.header, { Authorization: `Bearer ${c.token()}` }, "no Content-Type: wx.uploadFile writes it");
    assert.match(user.avatarUrl, /^http:\/\/.+\/media\/avatars\/[^/]+$/);
    assert.equal((await c.me()).avatarUrl, user.avatarUrl);
    const avatar = await fetchAvatar(user.avatarUrl);
    assert.equal(avatar.status, 200);
    assert.equal(avatar.type, "image/jpeg");
    assert.deepEqual([...avatar.bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], "re-encoded as a JPEG");
  });

  test("a file that is not an image is invalid_image, and the avatar stays as it was", async () => {
    const wx = fakeWx({ person: "bo" });
    const c = client(wx);
    const before = await c.uploadAvatar(files.png);
    const e = await rejection(c.uploadAvatar(files.text));
    assert.ok(isWxLoginError(e, "invalid_image"), String(e));
    assert.equal(e.statusCode, 400);
    assert.equal(typeof e.msg, "string");
    assert.equal((await c.me()).avatarUrl, before.avatarUrl);
    assert.equal(wx.calls.login.length, 1);
  });

  test("a file over AVATAR_MAX_BYTES is payload_too_large", async () => {
    const wx = fakeWx({ person: "cy" });
    const e = await rejection(client(wx).uploadAvatar(files.large));
    assert.ok(isWxLoginError(e, "payload_too_large"), String(e));
    assert.equal(e.statusCode, 413);
  });

  test("no file at all (chooseAvatar gave no avatarUrl) is invalid_image, before anything is sent", async () => {
    const wx = fakeWx({ person: "di" });
    const e = await rejection(client(wx).uploadAvatar(""));
    assert.ok(isWxLoginError(e, "invalid_image"), String(e));
    assert.equal(wx.calls.uploadFile.length, 0);
    assert.equal(wx.calls.login.length, 0);
  });

  test("uploads and requests that find no token share one wx.login and one POST /api/login", async () => {
    const wx = fakeWx({ person: "ed" });
    const c = client(wx);
    const answers = await Promise.all([
      c.uploadAvatar(files.png),
      c.me(),
      c.uploadAvatar(files.png),
      c.me(),
      c.uploadAvatar(files.png),
    ]);
    assert.equal(new Set(answers.map((u) => u.id)).size, 1);
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/login").length, 1);
    assert.equal(wx.uploadsTo("/api/me/avatar").length, 3);
    const token = wx.storage.get(KEY).token;
    assert.ok(wx.uploadsTo("/api/me/avatar").every((u) => u.header.Authorization === `Bearer ${token}`));
  });

  test("uploads whose session was revoked log in once, each replayed once with the new token", async () => {
    const wx = fakeWx({ person: "flo" });
    const c = client(wx);
    const first = (await c.login()).token;
    await revoke(first);
    const users = await Promise.all([c.uploadAvatar(files.png), c.uploadAvatar(files.png), c.me()]);
    assert.equal(new Set(users.map((u) => u.id)).size, 1);
    assert.equal(wx.calls.login.length, 2, "the first login and one more");
    const uploads = wx.uploadsTo("/api/me/avatar");
    assert.equal(uploads.length, 4, "each sent once, replayed once");
    assert.equal(uploads.filter((u) => u.header.Authorization === `Bearer ${first}`).length, 2);
    assert.notEqual(c.token(), first);
  });

  test("an upload whose access token is due is sent after one refresh, with no wx.login", async () => {
    let clock = Date.now();
    const wx = fakeWx({ person: "gil" });
    const c = client(wx, { now: () => clock });
    const first = await c.login();
    clock += first.expiresIn * 1000;
    await Promise.all([c.uploadAvatar(files.png), c.uploadAvatar(files.png), c.me()]);
    assert.equal(wx.calls.login.length, 1);
    assert.equal(wx.requestsTo("/api/token/refresh").length, 1);
    const uploads = wx.uploadsTo("/api/me/avatar");
    assert.equal(uploads.length, 2);
    assert.ok(uploads.every((u) => u.header.Authorization === `Bearer ${c.token()}`));
  });

  test("an upload that gets no answer is network_error, keeps the token and starts no login", async () => {
    const seeded = fakeWx({ person: "hu" });
    await client(seeded).login();
    const wx = fakeWx({ person: "hu" });
    wx.storage.set(KEY, seeded.storage.get(KEY));
    const offline = createClient({ baseURL: "http://127.0.0.1:9", wx });
    const e = await rejection(offline.uploadAvatar(files.png));
    assert.ok(isWxLoginError(e, "network_error"), String(e));
    assert.match(e.msg, /uploadFile:fail/);
    assert.equal(wx.calls.login.length, 0);
    assert.ok(offline.token(), "the token is kept");
  });

  test("an answer that is not the server's is bad_response, even with a 200", async () => {
    for (const [statusCode, data] of [
      [200, "<html>captive portal</html>"],
      [502, "<html>bad gateway</html>"],
    ]) {
      const wx = fakeWx({
        person: "ivo",
        answer: (r) => (r.path === "/api/me/avatar" ? { statusCode, data } : undefined),
      });
      const e = await rejection(client(wx).uploadAvatar(files.png));
      assert.ok(isWxLoginError(e, "bad_response"), String(e));
      assert.equal(e.statusCode, statusCode);
      assert.equal(wx.calls.login.length, 1);
    }
  });
});

describe("the nickname: client.updateProfile({ nickName })", () => {
  test("a nickname is set through PUT /api/me, and the other fields stay", async () => {
    const wx = fakeWx({ person: "jo" });
    const c = client(wx);
    const withAvatar = await c.uploadAvatar(files.png);
    const user = await c.updateProfile({ nickName: "小明" });
    assert.equal(user.nickName, "小明");
    assert.equal(user.avatarUrl, withAvatar.avatarUrl);
    const [put] = wx.requestsTo("/api/me").filter((r) => r.method === "PUT");
    assert.deepEqual(put.data, { nickName: "小明" });
    assert.equal((await c.me()).nickName, "小明");
    assert.equal(wx.calls.login.length, 1);
  });

  test("only the profile's fields are sent; null clears the avatar", async () => {
    const wx = fakeWx({ person: "kai" });
    const c = client(wx);
    await c.uploadAvatar(files.png);
    const form = { nickName: "Kai", avatarUrl: null, agreed: "on" };
    const user = await c.updateProfile(form);
    assert.equal(user.nickName, "Kai");
    assert.equal(user.avatarUrl, null);
    const put = wx.requestsTo("/api/me").find((r) => r.method === "PUT");
    assert.deepEqual(put.data, { nickName: "Kai", avatarUrl: null });
  });

  test("a nickname WeChat's content security finds risky is content_rejected, and the nickname stays", async () => {
    const wx = fakeWx({ person: "lu" });
    const c = client(wx);
    await c.updateProfile({ nickName: "Lu" });
    const e = await rejection(c.updateProfile({ nickName: "a risky name" }));
    assert.ok(isWxLoginError(e, "content_rejected"), String(e));
    assert.equal(e.statusCode, 400);
    assert.equal((await c.me()).nickName, "Lu");
    assert.equal(wx.calls.login.length, 1, "a refused nickname is no reason to log in");
  });
});
