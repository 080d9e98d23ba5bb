/**
 * `locald __complete processes|builders [-C DIR]`: what the completion scripts offer that only
 * this machine knows, one candidate a line: the process types of the project's last build (as
 * `locald run` finds it, from a subdirectory too) and the builders pulled so far. Prints
 * nothing, and exits 0, when there is nothing to offer: a completion never shows an error.
 */
import type { CommandContext } from "../context.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, dir } = ctx;
  const lines: string[] = [];
  try {
    if (args.positionals[0] === "processes") {
      const { openBackend } = await import("../../hosts/select.ts");
      const { loadDevEnv } = await import("../../devenv/launch.ts");
      const d = loadDevEnv(dir, await openBackend(ctx));
      lines.push(...d.rec.processes.map((p) => p.type));
    } else if (args.positionals[0] === "builders") {
      const { listBuilders } = await import("../../oci/builder.ts");
      lines.push(...(await listBuilders(ctx.dirs)).map((b) => b.ref));
    }
  } catch { /* nothing to offer */ }
  if (lines.length) console.log(lines.join("\n"));
  return 0;
}
