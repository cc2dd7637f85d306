// Compiled, never run (`npm run typecheck`): the real `wx` of miniprogram-api-typings fits the
// client, and the README's uses of the API type-check.
import {
  createClient,
  isWxLoginError,
  type ErrorKind,
  type LoginResponse,
  type ProfileUpdate,
  type RefreshResponse,
  type User,
  type WxLike,
} from "../src/index.js";

const real: WxLike = wx;
const client = createClient({ baseURL: "https://api.example.com", wx: real, appid: "wx1234" });

export async function page(): Promise<User | null> {
  try {
    const me: User = await client.me();
    const answer = await client.request<{ items: string[] }>({ url: "/api/orders", method: "GET" });
    const items: string[] = answer.data.items;
    void items;
    return me;
  } catch (e) {
    if (isWxLoginError(e)) {
      const kind: ErrorKind = e.error;
      switch (kind) {
        case "risky_user":
        case "rate_limited":
        case "network_error":
          return null;
        default:
          throw e;
      }
    }
    throw e;
  }
}

// A getUserInfo / getPhoneNumber button's results go through as WeChat types them.
export function handlers() {
  wx.getUserInfo({
    success: (res) => void client.sendUserInfo(res),
  });
  return (e: WechatMiniprogram.ButtonGetPhoneNumber) => client.sendPhoneNumber(e.detail);
}

// The chooseAvatar button's temporary file and the nickname form's value go through as
// WeChat types them; content_rejected and invalid_image are kinds to branch on.
export function profileHandlers() {
  return {
    onChooseAvatar: (e: WechatMiniprogram.CustomEvent<{ avatarUrl: string }>): Promise<User> =>
      client.uploadAvatar(e.detail.avatarUrl),
    async onSaveNickname(e: WechatMiniprogram.FormSubmit): Promise<User | "换一个昵称" | "换一张图片"> {
      const update: ProfileUpdate = { nickName: String(e.detail.value["nickName"] ?? "") };
      try {
        return await client.updateProfile(update);
      } catch (err) {
        if (isWxLoginError(err, "content_rejected")) return "换一个昵称";
        if (isWxLoginError(err, "invalid_image")) return "换一张图片";
        throw err;
      }
    },
    clearAvatar: (): Promise<User> => client.updateProfile({ avatarUrl: null }),
    // @ts-expect-error the field is nickName, as the server spells it
    misspelt: () => client.updateProfile({ nickname: "x" }),
  };
}

// The login's and the refresh's answers carry both tokens, typed from /openapi.json.
export function tokensOf(answer: LoginResponse | RefreshResponse): [string, string, number] {
  return [answer.token, answer.refreshToken, answer.refreshExpiresIn];
}

export function refreshKind(e: unknown): boolean {
  return isWxLoginError(e, "refresh_token_reused") || isWxLoginError(e, "refresh_token_invalid");
}

// account_disabled (a banned account's login or refresh, 403) is a kind to branch on, though
// the generated api.ts may not list it yet.
export function banned(e: unknown): boolean {
  if (isWxLoginError(e)) {
    const kind: ErrorKind = e.error;
    return kind === "account_disabled";
  }
  return isWxLoginError(e, "account_disabled");
}
