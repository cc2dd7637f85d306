// Starts the real wxlogin-server in dev mode (SQLite in a temporary folder, the built-in fake
// WeChat) on a free loopback port, for the tests to talk to over real HTTP. `stop()` ends it
// and removes the folder; so does the test process's exit, whatever happened.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serverBinary } from "../scripts/server-binary.mjs";

const running = new Set();
process.on("exit", () => {
  for (const server of running) {
    server.kill();
  }
});

/** Starts a server with `env` on top of dev mode's; resolves once it listens. */
export async function startServer(env = {}) {
  const binary = serverBinary();
  // The `wxlogin-test-` prefix is what `.ci/run` counts to find leftovers.
  const dir = mkdtempSync(join(tmpdir(), "wxlogin-test-client-"));
  const child = spawn(binary, ["--dev"], {
    env: {
      PATH: process.env.PATH,
      BIND_ADDR: "127.0.0.1:0",
      DATABASE_URL: `sqlite://${join(dir, "wxlogin.db")}`,
      LOGIN_RATE_LIMIT: "0",
      RUST_LOG: "info",
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  running.add(child);
  const cleanup = () => {
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  let log = "";
  const addresses = new Promise((resolve, reject) => {
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      log += chunk;
      const listening = log.match(/listening on (http:\/\/[0-9.:]+)/);
      const fake = log.match(/FAKE at (http:\/\/[0-9.:]+)/);
      if (listening && fake) {
        resolve({ baseURL: listening[1], fakeURL: fake[1] });
      }
    });
    child.on("exit", (code) => {
      cleanup();
      reject(new Error(`wxlogin-server exited (${code}) before listening:\n${log}`));
    });
  });
  const timer = setTimeout(() => child.kill(), 30_000);
  let found;
  try {
    found = await addresses;
  } finally {
    clearTimeout(timer);
  }
  return {
    ...found,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      cleanup();
    },
  };
}
