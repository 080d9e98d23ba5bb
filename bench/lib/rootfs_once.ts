/**
 * bench/rootfs.ts's locald side: first use of an image's root filesystem (ensureRootfs: pull
 * what is missing, verify, extract, record), as a stack build does it. Args: REF WHAT.
 */
import { ensureRootfs } from "../../src/oci/rootfs.ts";
import { localdDirs } from "../../src/config/paths.ts";

const env = Deno.env.toObject();
const r = await ensureRootfs(Deno.args[0], {
  env,
  dirs: localdDirs(env),
  what: Deno.args[1] ?? "image",
});
r.release();
