// app.js of a native mini program: one client for the whole app.
const { createClient } = require("wxlogin-miniprogram");

App({
  // Your wxlogin server; add it to the mini program's "request legal domains".
  api: createClient({ baseURL: "https://api.example.com", wx }),
});
