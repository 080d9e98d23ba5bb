import type { CommandContext } from "../context.ts";
import { VERSION } from "../../version.ts";
import { LIFECYCLE, LIMA } from "../../tools/pins.ts";
import { UsageError } from "../../errors.ts";

export function run({ args, out }: CommandContext): Promise<number> {
  if (args.positionals.length) throw new UsageError("takes no arguments", "version");
  const info = {
    version: VERSION,
    deno: Deno.version.deno,
    os: Deno.build.os,
    arch: Deno.build.arch,
    tools: {
      lifecycle: LIFECYCLE.version,
      lima: LIMA.version,
    },
  };
  if (args.flags.json) out.json(info);
  else {
    console.log(`locald ${VERSION}`);
    console.log(`  deno      ${info.deno} (${info.os}/${info.arch})`);
    console.log(`  lifecycle ${LIFECYCLE.version}`);
    console.log(`  lima      ${LIMA.version}`);
  }
  return Promise.resolve(0);
}
