// A page that shows the account, lets the person pick their avatar (chooseAvatar button) and
// nickname (nickname input), binds a phone number, and logs out or deletes the account. Paste
// it, with profile.wxml and profile.json, into pages/profile/ (base library 2.21.2 or later).
const { isWxLoginError } = require("wxlogin-miniprogram");

const { api } = getApp();

/** What to tell the person for each kind of failure; everything else is a bug to report. */
function explain(e) {
  if (!isWxLoginError(e)) return "Something went wrong";
  switch (e.error) {
    case "network_error":
      return "No connection: try again";
    case "risky_user":
      return "WeChat blocked this login";
    case "rate_limited":
      return "Too many attempts: wait a minute";
    case "invalid_image":
      return "That picture cannot be used: choose another one";
    case "payload_too_large":
      return "That picture is too large: choose a smaller one";
    case "content_rejected":
      return "换一个昵称 (WeChat refused this nickname: choose another)";
    case "wechat_unavailable":
    case "unavailable":
      return "The service is busy: try again";
    default:
      return e.msg;
  }
}

Page({
  data: { user: null, error: "" },

  async onLoad() {
    try {
      // No token yet, or its session ended: the client logs in first, once for all requests.
      this.setData({ user: await api.me(), error: "" });
    } catch (e) {
      this.setData({ error: explain(e) });
    }
  },

  // <button open-type="getPhoneNumber" bindgetphonenumber="onPhone">
  async onPhone(e) {
    try {
      this.setData({ user: await api.sendPhoneNumber(e.detail), error: "" });
    } catch (err) {
      this.setData({ error: explain(err) });
    }
  },

  // <button open-type="chooseAvatar" bindchooseavatar="onChooseAvatar">: e.detail.avatarUrl is
  // a temporary local file, uploaded with the token (the client logs in first if it must).
  async onChooseAvatar(e) {
    try {
      this.setData({ user: await api.uploadAvatar(e.detail.avatarUrl), error: "" });
    } catch (err) {
      this.setData({ error: explain(err) });
    }
  },

  // <form bindsubmit="onSaveNickname"> around <input type="nickname" name="nickName">: the
  // nickname WeChat's keyboard offers is only sure to be in the field at submit time.
  async onSaveNickname(e) {
    const nickName = (e.detail.value.nickName || "").trim();
    if (!nickName) return;
    try {
      this.setData({ user: await api.updateProfile({ nickName }), error: "" });
    } catch (err) {
      this.setData({ error: explain(err) });
    }
  },

  async onLogout() {
    await api.logout().catch(() => undefined); // logged out on this device whatever happens
    this.setData({ user: null });
  },

  async onDeleteAccount() {
    const { confirm } = await new Promise((resolve) =>
      wx.showModal({ title: "Delete your account?", content: "This cannot be undone.", success: resolve }),
    );
    if (!confirm) return;
    try {
      await api.deleteAccount();
      this.setData({ user: null, error: "" });
    } catch (e) {
      this.setData({ error: explain(e) });
    }
  },
});
