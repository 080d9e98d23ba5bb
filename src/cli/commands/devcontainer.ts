import type { CommandContext } from "../context.ts";
import { flagBool } from "../args.ts";
import { UsageError } from "../../errors.ts";
import { writeDevcontainer } from "../../devenv/devcontainer.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, env, dir, out } = ctx;
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(
      `unexpected argument "${[...args.positionals, ...args.rest][0]}"`,
      "devcontainer",
    );
  }
  const r = await writeDevcontainer({
    projectDir: dir,
    env,
    dirs: ctx.dirs,
    out,
    force: flagBool(args, "force"),
  });
  if (flagBool(args, "json")) out.json(r);
  switch (r.status) {
    case "created":
      out.info(`wrote ${r.path}`);
      break;
    case "updated":
      out.info(`updated ${r.path}`);
      break;
    case "unchanged":
      out.info(`${r.path} is up to date`);
      break;
    case "kept":
      out.warn(
        `${r.path} was edited since locald wrote it; left as it is. ` +
          `Would change: ${r.changes.join(", ") || "nothing but its digest"}. ` +
          "Pass --force to replace it.",
      );
  }
  return 0;
}
