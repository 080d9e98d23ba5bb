import type { CommandContext } from "../context.ts";
import { UsageError } from "../../errors.ts";
import { type CheckResult, CHECKS } from "../../doctor/checks.ts";

/** Runs every check (each one on its own: a check that throws is reported, not fatal). */
export async function run(ctx: CommandContext): Promise<number> {
  const { args, out } = ctx;
  if (args.positionals.length) throw new UsageError("takes no arguments", "doctor");
  const results = await Promise.all(CHECKS.map(async (c) => {
    let r: CheckResult;
    try {
      r = await c.run(ctx);
    } catch (e) {
      r = { status: "fail", summary: `the check itself failed: ${(e as Error).message}` };
    }
    return { id: c.id, title: c.title, ...r };
  }));
  const failed = results.some((r) => r.status === "fail");
  if (args.flags.json) {
    out.json({ ok: !failed, checks: results });
  } else {
    const w = Math.max(...results.map((r) => r.title.length));
    for (const r of results) {
      console.log(`${r.status.padEnd(4)}  ${r.title.padEnd(w)}  ${r.summary}`);
      const pad = " ".repeat(6 + w + 2);
      for (const d of r.details ?? []) console.log(`${pad}${d}`);
      if (r.hint) console.log(`${pad}fix: ${r.hint}`);
    }
  }
  return failed ? 1 : 0;
}
