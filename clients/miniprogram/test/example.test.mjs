// The example page of examples/ works as pasted: loaded the way a mini program loads it, with
// the package resolved by its own name, against the real server.
import assert from "node:assert/strict";
import Module, { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { fakeWx } from "./fakes.mjs";
import { imageFiles } from "./images.mjs";
import { startServer } from "./server.mjs";

const require = createRequire(import.meta.url);
// The example requires the package by name, as a mini program's build of npm provides it:
// here that name is this build.
const built = fileURLToPath(new URL("../dist/cjs/index.js", import.meta.url));
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, request === "wxlogin-miniprogram" ? built : request, ...rest);
};
const files = imageFiles();
let server;
before(async () => {
  // Content security on, as outside dev mode: the fake WeChat finds "risky" nicknames risky.
  server = await startServer({ CONTENT_CHECK: "on" });
});
after(async () => {
  Module._resolveFilename = resolve;
  await server?.stop();
  files.remove();
  for (const name of ["wx", "App", "getApp", "Page"]) delete globalThis[name];
});

test("the example page logs in, shows the account, takes an avatar and a nickname, binds a phone number and logs out", async () => {
  const wx = fakeWx({ person: "zoe", origins: { "https://api.example.com": server.baseURL } });
  let app;
  let page;
  Object.assign(globalThis, {
    wx,
    App: (definition) => (app = definition),
    getApp: () => app,
    Page: (definition) => (page = definition),
  });
  require("../examples/app.js");
  require("../examples/pages/profile/profile.js");
  const view = {
    ...page,
    data: { ...page.data },
    setData(update) {
      Object.assign(this.data, update);
    },
  };

  await view.onLoad();
  assert.equal(view.data.error, "");
  assert.equal(typeof view.data.user.id, "string");
  // <button open-type="chooseAvatar">: a temporary local file.
  await view.onChooseAvatar({ detail: { avatarUrl: files.png } });
  assert.equal(view.data.error, "");
  assert.match(view.data.user.avatarUrl, /\/media\/avatars\//);
  // Served by the server at its own address (dev mode has no PUBLIC_BASE_URL).
  const avatar = await fetch(view.data.user.avatarUrl);
  assert.equal(avatar.headers.get("content-type"), "image/jpeg");
  await view.onChooseAvatar({ detail: { avatarUrl: files.text } });
  assert.match(view.data.error, /choose another one/);
  // <form bindsubmit> around <input type="nickname" name="nickName">.
  await view.onSaveNickname({ detail: { value: { nickName: " 小明 " } } });
  assert.equal(view.data.error, "");
  assert.equal(view.data.user.nickName, "小明");
  await view.onSaveNickname({ detail: { value: { nickName: "risky 小明" } } });
  assert.match(view.data.error, /换一个昵称/);
  assert.equal(view.data.user.nickName, "小明");
  assert.equal(wx.uploadsTo("/api/me/avatar").length, 2);
  await view.onPhone({ detail: { code: "13800138000", errMsg: "getPhoneNumber:ok" } });
  assert.equal(view.data.user.phoneNumber, "13800138000");
  await view.onPhone({ detail: { errMsg: "getPhoneNumber:fail user deny" } });
  assert.match(view.data.error, /no code/);
  await view.onLogout();
  assert.equal(view.data.user, null);
  assert.equal(wx.storage.size, 0);
  assert.equal(wx.calls.login.length, 1);
});
