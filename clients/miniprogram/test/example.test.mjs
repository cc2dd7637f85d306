// The example page of examples/ works as pasted: loaded the way a mini program loads it, with
// the package resolved by its own name, against the real server.
import assert from "node:assert/strict";
import Module, { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { fakeWx } from "./fakes.mjs";
import { startServer } from "./server.mjs";

const require = createRequire(import.meta.url);
// The example requires the package by name, as a mini program's build of npm provides it:
// here that name is this build.
const built = fileURLToPath(new URL("../dist/cjs/index.js", import.meta.url));
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, request === "wxlogin-miniprogram" ? built : request, ...rest);
};
let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  Module._resolveFilename = resolve;
  await server?.stop();
  for (const name of ["wx", "App", "getApp", "Page"]) delete globalThis[name];
});

test("the example page logs in, shows the account, binds a phone number and logs out", async () => {
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
  await view.onPhone({ detail: { code: "13800138000", errMsg: "getPhoneNumber:ok" } });
  assert.equal(view.data.user.phoneNumber, "13800138000");
  await view.onPhone({ detail: { errMsg: "getPhoneNumber:fail user deny" } });
  assert.match(view.data.error, /no code/);
  await view.onLogout();
  assert.equal(view.data.user, null);
  assert.equal(wx.storage.size, 0);
  assert.equal(wx.calls.login.length, 1);
});
