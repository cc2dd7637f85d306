// What `npm pack` makes installs into an empty project and loads there, as ESM and CommonJS,
// with no dependency of its own.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "wxlogin-test-pack-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const npm = (args, cwd) =>
  execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8" });

test("the packed package installs into an empty project and loads as ESM and CommonJS", () => {
  const [packed] = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", dir], root));
  const files = packed.files.map((f) => f.path).sort();
  assert.ok(files.includes("dist/esm/index.js") && files.includes("dist/cjs/index.js"), files.join());
  assert.ok(files.includes("dist/esm/index.d.ts") && files.includes("dist/cjs/index.d.ts"));
  assert.ok(files.includes("README.md"));
  assert.ok(!files.some((f) => f.startsWith("src/") || f.startsWith("test/")), files.join());

  const project = join(dir, "app");
  execFileSync("mkdir", [project]);
  writeFileSync(join(project, "package.json"), '{ "name": "app", "private": true }\n');
  npm(["install", "--offline", join(dir, packed.filename)], project);
  const manifest = JSON.parse(readFileSync(join(project, "node_modules/wxlogin-miniprogram/package.json"), "utf8"));
  assert.equal(manifest.dependencies, undefined, "no runtime dependency");

  const names = "Object.keys(m).sort().join()";
  const cjs = execFileSync(process.execPath, ["-e", `const m = require("wxlogin-miniprogram"); console.log(${names})`], {
    cwd: project,
    encoding: "utf8",
  });
  const esm = execFileSync(
    process.execPath,
    ["--input-type=module", "-e", `import * as m from "wxlogin-miniprogram"; console.log(${names})`],
    { cwd: project, encoding: "utf8" },
  );
  assert.equal(cjs.trim(), "WxLoginError,createClient,fromTaro,fromUni,isWxLoginError");
  assert.equal(esm.trim(), cjs.trim());
});
