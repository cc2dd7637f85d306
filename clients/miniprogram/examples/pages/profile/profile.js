// A page that shows the account, binds a phone number, fills the profile from WeChat, and logs
// out or deletes the account. Paste it, with profile.wxml, into pages/profile/.
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
    case "session_key_stale":
      return "Please tap again";
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

  // <button bindtap="onProfile">: getUserProfile needs a tap.
  onProfile() {
    wx.getUserProfile({
      desc: "Show your nickname and avatar",
      success: async (res) => {
        try {
          this.setData({ user: await api.sendUserInfo(res), error: "" });
        } catch (e) {
          this.setData({ error: explain(e) });
        }
      },
    });
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
