/**
 * A Lima backend session carried by the recording stand-in limactl (tests/standins/limactl.ts),
 * which runs `limactl shell`'s command on this machine (as root: as uid 1000 in a user
 * namespace). The "VM" mounts the test's root and the fixtures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, testEnv } from "./locald.ts";
import { startMirror } from "./mirror.ts";
import { lifecycleMirrorDir } from "./tools.ts";

const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const STANDINS = join(REPO, "tests", "standins");
const FIXTURES = join(REPO, "tests", "fixtures");

export type Call = { argv: string[]; env: Record<string, string> };

export async function limaSession() {
  const mirror = await startMirror(lifecycleMirrorDir());
  const t = await testEnv({
    LOCALD_BACKEND: "lima",
    LOCALD_LIMACTL: join(STANDINS, "limactl"),
    LOCALD_LIFECYCLE_MIRROR: mirror.url,
  });
  // The VM mounts the test's root (home and LOCALD_HOME are under it) and the fixtures.
  t.env.LOCALD_VM_MOUNTS = `${t.root}:${FIXTURES}`;
  const limaHome = join(t.localdHome, "lima");
  return {
    ...t,
    limaHome,
    /** The VM user's home as the stand-in gives it to `limactl shell` (the steps' HOME). */
    guestHome: join(limaHome, "_standin_guest_home"),
    run: (args: string[]) => runLocald(args, { env: t.env }),
    async calls(): Promise<Call[]> {
      const text = await Deno.readTextFile(join(limaHome, "standin-calls.jsonl"));
      return text.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
    async close() {
      await mirror.close();
      await t.cleanup();
    },
  };
}

/** The argv after `env -i -- K=V...` of a recorded `limactl shell` call. */
export function guestArgv(c: Call): string[] {
  assert.deepEqual(c.argv.slice(0, 8), [
    "shell",
    "--tty=false",
    "--workdir",
    "/",
    "locald",
    "/usr/bin/env",
    "-i",
    "--",
  ]);
  const rest = c.argv.slice(8);
  return rest.slice(rest.findIndex((a) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(a)));
}
