// Key files on disk (Node only): the same rules as `sintctl keys` —
// written with mode 0600, never overwriting an existing file, and refused on
// load when readable or writable by group or others.

import fs from "node:fs/promises";
import { constants } from "node:fs";
import { Key } from "./keys.js";
import { SintError } from "./errors.js";

/** The largest key file loadKey reads (internal/keyfile.MaxFileBytes). */
export const MAX_KEY_FILE_BYTES = 4096;

/**
 * loadKey reads a key file written by `sintctl keys gen` or saveKey.
 * @param {string} path
 * @returns {Promise<Key>}
 */
export async function loadKey(path) {
  const fh = await fs.open(path, "r");
  try {
    const st = await fh.stat();
    if (process.platform !== "win32" && (st.mode & 0o077) !== 0) {
      throw new SintError("KEY_INVALID", `${path} has mode 0${(st.mode & 0o777).toString(8)}; it must not be accessible by group or others (chmod 600)`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new SintError("KEY_INVALID", `${path} is too large for a key file`);
    const text = await fh.readFile({ encoding: "utf8" });
    return await Key.fromKeyFileJSON(text);
  } finally {
    await fh.close();
  }
}

/**
 * saveKey writes key to path with mode 0600. It fails if the file exists
 * (EEXIST) and syncs the file before returning.
 * @param {string} path
 * @param {Key} key
 */
export async function saveKey(path, key) {
  const fh = await fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  let ok = false;
  try {
    await fh.writeFile(key.toKeyFileJSON());
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await fs.rm(path, { force: true });
  }
}
