// Files on disk standing for what `chooseAvatar` hands a page (a temporary local file): a real
// PNG, a text file, and one over the test servers' AVATAR_MAX_BYTES. In a folder of their own,
// removed by `remove()` and, whatever happened, when the test process exits.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real 2×2 PNG (RGB: red and blue pixels), 75 bytes. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mP4z8DA0PCfAUIBACFyBP2pJ3SLAAAAAElFTkSuQmCC",
  "base64",
);

/** The AVATAR_MAX_BYTES the tests' servers are started with when they test the bound. */
export const SMALL_AVATAR_MAX_BYTES = 4096;

/** Writes the files; `remove()` deletes them (tests call it in `after`). */
export function imageFiles() {
  // The `wxlogin-test-` prefix is what `.ci/run` counts to find leftovers.
  const dir = mkdtempSync(join(tmpdir(), "wxlogin-test-avatar-"));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", remove);
  const file = (name, bytes) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  return {
    dir,
    /** A PNG, named like a temporary file of WeChat's. */
    png: file("tmp_avatar.png", PNG),
    /** Text, named like an image: the server goes by the content. */
    text: file("tmp_notes.jpg", "not an image at all\n"),
    /** A PNG's first bytes, then zeros past SMALL_AVATAR_MAX_BYTES. */
    large: file("tmp_large.png", Buffer.concat([PNG, Buffer.alloc(2 * SMALL_AVATAR_MAX_BYTES)])),
    remove,
  };
}
