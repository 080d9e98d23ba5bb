/**
 * Running locald as an ordinary user (uid 1000) from a root test suite: locald is bundled
 * into one file and run by a copy of deno the user can execute, under `setpriv`, so the user
 * needs no access to root's module cache. Everything lives in one world-readable temporary
 * directory, chowned to the user; `chownToUser()` hands over files created later.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO } from "./locald.ts";
import { runProcess } from "./proc.ts";

export const UID = 1000;

export async function sh(cmd: string[], env?: Record<string, string>) {
  return await runProcess(cmd, { env });
}

export interface AsUser {
  /** The temporary directory (owned by the user); holds home/ and locald/. */
  root: string;
  /** The user's base environment (PATH, HOME, LOCALD_HOME, DENO_DIR, NO_COLOR). */
  env: Record<string, string>;
  /** Run `locald ARGS` as the user with `env` plus `extra`. */
  locald(args: string[], extra?: Record<string, string>): Promise<Awaited<ReturnType<typeof sh>>>;
  /** Give the user everything under root (after the test adds files). */
  chownToUser(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function asUser(extraEnv: Record<string, string> = {}): Promise<AsUser> {
  const root = await Deno.makeTempDir({ prefix: "locald-unpriv-" });
  await Deno.chmod(root, 0o755);
  // A deno the user can execute (root's own copy may sit in a private directory).
  const deno = join(root, "deno");
  try {
    await Deno.link(Deno.execPath(), deno);
  } catch {
    await Deno.copyFile(Deno.execPath(), deno);
  }
  await Deno.chmod(deno, 0o755);
  const bundle = join(root, "locald.js");
  const b = await sh([
    Deno.execPath(),
    "bundle",
    "-q",
    "--config",
    join(REPO, "deno.json"),
    join(REPO, "main.ts"),
    "-o",
    bundle,
  ]);
  assert.equal(b.code, 0, b.stderr);
  for (const d of ["home", "locald", "deno-dir"]) await Deno.mkdir(join(root, d));
  const env = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: join(root, "home"),
    LOCALD_HOME: join(root, "locald"),
    DENO_DIR: join(root, "deno-dir"),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
    ...extraEnv,
  };
  const chownToUser = async () => {
    assert.equal((await sh(["chown", "-R", `${UID}:${UID}`, root])).code, 0);
  };
  await chownToUser();
  return {
    root,
    env,
    locald: (args, extra = {}) =>
      sh([
        "setpriv",
        `--reuid=${UID}`,
        `--regid=${UID}`,
        "--clear-groups",
        "--",
        deno,
        "run",
        "-A",
        "--no-config",
        bundle,
        ...args,
      ], { ...env, ...extra }),
    chownToUser,
    cleanup: () => Deno.remove(root, { recursive: true }).catch(() => {}),
  };
}
