import type { CommandContext } from "../registry.ts";
import { ensureLifecycle } from "../../tools/lifecycle.ts";
import { UsageError } from "../../errors.ts";

export async function run({ args, out, env }: CommandContext): Promise<number> {
  if (args.positionals.length) throw new UsageError("takes no arguments", "setup");
  const lc = await ensureLifecycle(env, out);
  if (args.flags.json) {
    out.json({
      lifecycle: {
        version: lc.version,
        path: lc.root,
        source: lc.source,
        platformApis: lc.platformApis,
      },
    });
  } else {
    out.info(`lifecycle ${lc.version} ready at ${lc.root} (${lc.source})`);
  }
  return 0;
}
