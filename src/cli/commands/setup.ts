import type { CommandContext } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { openBackend } from "../../hosts/select.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, out, env } = ctx;
  if (args.positionals.length) throw new UsageError("takes no arguments", "setup");
  // Natively: the lifecycle for this machine. Lima/WSL: the VM or distro, then the lifecycle
  // for its architecture where it can run it.
  const b = await openBackend(ctx);
  await b.ready(out);
  const lc = (await b.lifecycle(env, out, true)).lifecycle!;
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
