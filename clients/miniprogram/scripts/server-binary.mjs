// The wxlogin-server binary the scripts and tests use: $WXLOGIN_SERVER_BIN, else the
// workspace's debug build, built first (cargo does nothing when it is current).
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const workspace = fileURLToPath(new URL("../../..", import.meta.url));

export function serverBinary() {
  if (process.env.WXLOGIN_SERVER_BIN) {
    return process.env.WXLOGIN_SERVER_BIN;
  }
  execFileSync("cargo", ["build", "-q", "--locked", "-p", "wxlogin-server"], {
    cwd: workspace,
    stdio: ["ignore", "inherit", "inherit"],
  });
  return `${workspace}target/debug/wxlogin-server`;
}
