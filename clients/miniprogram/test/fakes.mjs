// Fakes of the platforms the client runs on — `wx`, Taro, uni-app — that record every call.
// Their `request` is real HTTP (Node's fetch) to the real server, and so is their
// `uploadFile`: the local file read from disk and POSTed as `multipart/form-data`, as WeChat
// does; their `login` hands out codes the dev-mode fake WeChat understands (`<person>.<n>`:
// that person's openid).
import { readFile } from "node:fs/promises";
import { basename } from "node:path";

let serial = 0;

/**
 * A fake `wx`. `person` names the WeChat user; `origins` maps origins in URLs to others; `code()` may give other codes (`invalid`,
 * `risky`...); `now` is the clock `login` stamps its calls with; `answer(request)` may answer
 * a request instead of the server (to inject a fault), or return undefined.
 */
export function fakeWx({ person = "olga", code, now = Date.now, answer, origins = {} } = {}) {
  const calls = { login: [], request: [], uploadFile: [], checkSession: 0, codes: [] };
  const storage = new Map();
  let sessionFresh = true;
  const wx = {
    calls,
    storage,
    expireWeChatSession() {
      sessionFresh = false;
    },
    login({ success, fail }) {
      calls.login.push(now());
      const given = code ? code() : `${person}.${++serial}`;
      calls.codes.push(given);
      setTimeout(() => (given === null ? fail({ errMsg: "login:fail" }) : success({ code: given, errMsg: "login:ok" })), 0);
    },
    request({ url, method = "GET", data, header = {}, success, fail }) {
      const request = { url, path: new URL(url).pathname, method, header, data };
      calls.request.push(request);
      const injected = answer?.(request);
      if (injected) {
        setTimeout(() => success({ header: {}, ...injected }), 0);
        return;
      }
      const body = data === undefined ? undefined : typeof data === "string" ? data : JSON.stringify(data);
      // `origins` sends a hard-coded origin (an example's) to the test's server.
      const target = Object.entries(origins).reduce((u, [from, to]) => u.replace(from, to), url);
      fetch(target, { method, headers: header, body }).then(
        async (res) => {
          const text = await res.text();
          let parsed = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON: wx.request hands the text.
          }
          success({ statusCode: res.status, data: parsed, header: Object.fromEntries(res.headers), errMsg: "request:ok" });
        },
        (e) => fail({ errMsg: `request:fail ${e.cause?.code ?? e.message}` }),
      );
    },
    /**
     * Like wx.uploadFile: a multipart POST of the file at `filePath` in the part `name`, with
     * `formData`'s parts; `success` gets the body as text, whatever it is.
     */
    uploadFile({ url, filePath, name, header = {}, formData = {}, success, fail }) {
      const upload = { url, path: new URL(url).pathname, filePath, name, header, formData };
      calls.uploadFile.push(upload);
      const injected = answer?.(upload);
      if (injected) {
        const data = typeof injected.data === "string" ? injected.data : JSON.stringify(injected.data);
        setTimeout(() => success({ ...injected, data, errMsg: "uploadFile:ok" }), 0);
        return;
      }
      const target = Object.entries(origins).reduce((u, [from, to]) => u.replace(from, to), url);
      readFile(filePath)
        .then((bytes) => {
          const form = new FormData();
          for (const [key, value] of Object.entries(formData)) {
            form.append(key, String(value));
          }
          form.append(name, new Blob([bytes]), basename(filePath));
          // fetch writes the multipart Content-Type with its boundary, as WeChat does.
          return fetch(target, { method: "POST", headers: header, body: form });
        })
        .then(
          async (res) => success({ statusCode: res.status, data: await res.text(), errMsg: "uploadFile:ok" }),
          (e) => fail({ errMsg: `uploadFile:fail ${e.code ?? e.cause?.code ?? e.message}` }),
        );
    },
    getStorageSync(key) {
      // wx answers "" for a key it does not hold.
      return storage.has(key) ? storage.get(key) : "";
    },
    setStorageSync(key, value) {
      storage.set(key, structuredClone(value));
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
    checkSession({ success, fail }) {
      calls.checkSession += 1;
      setTimeout(() => (sessionFresh ? success({ errMsg: "checkSession:ok" }) : fail({ errMsg: "checkSession:fail" })), 0);
    },
    /** The calls of `request` to `path`. */
    requestsTo(path) {
      return calls.request.filter((r) => r.path === path);
    },
    /** The calls of `uploadFile` to `path`. */
    uploadsTo(path) {
      return calls.uploadFile.filter((r) => r.path === path);
    },
  };
  return wx;
}

/**
 * A fake Taro: the same callbacks, and like Taro every call also returns a promise, which
 * rejects when the call fails.
 */
export function fakeTaro(options) {
  const wx = fakeWx(options);
  const promised = (fn) => (o) =>
    new Promise((resolve, reject) =>
      fn({
        ...o,
        success: (res) => {
          o.success?.(res);
          resolve(res);
        },
        fail: (err) => {
          o.fail?.(err);
          reject(err);
        },
      }),
    );
  return {
    wx,
    login: promised(wx.login),
    request: promised(wx.request),
    uploadFile: promised(wx.uploadFile),
    checkSession: promised(wx.checkSession),
    getStorageSync: wx.getStorageSync,
    setStorageSync: wx.setStorageSync,
    removeStorageSync: wx.removeStorageSync,
  };
}

/** A fake uni-app: `uni.login` fails without `provider: "weixin"`, as on other platforms. */
export function fakeUni(options) {
  const wx = fakeWx(options);
  return {
    wx,
    login(o) {
      if (o.provider !== "weixin") {
        setTimeout(() => o.fail?.({ errMsg: "login:fail provider" }), 0);
        return;
      }
      wx.login(o);
    },
    request: wx.request,
    uploadFile: wx.uploadFile,
    checkSession: wx.checkSession,
    getStorageSync: wx.getStorageSync,
    setStorageSync: wx.setStorageSync,
    removeStorageSync: wx.removeStorageSync,
  };
}
