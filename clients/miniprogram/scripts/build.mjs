// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its .d.ts, from src/ with
// tsc alone. dist/cjs gets a package.json saying so, since the package itself is "module".
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = (project) =>
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", project], {
    cwd: root,
    stdio: "inherit",
  });

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
tsc("tsconfig.json");
tsc("tsconfig.cjs.json");
writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{ "type": "commonjs" }\n');
console.log("built dist/esm and dist/cjs");
