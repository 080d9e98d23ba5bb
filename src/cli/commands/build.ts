import type { CommandContext } from "../registry.ts";
import { flagBool, flagList, flagString } from "../args.ts";
import { UsageError } from "../../errors.ts";
import { type BuildOptions, prepareBuild, runBuild } from "../../cnb/build.ts";
import { formatMs } from "../output.ts";
import { parseNetwork } from "../../hosts/sandbox.ts";
import { openBackend } from "../../hosts/select.ts";

export async function run({ args, out, env, dir }: CommandContext): Promise<number> {
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(
      `unexpected argument "${[...args.positionals, ...args.rest][0]}"`,
      "build",
    );
  }
  const opts: BuildOptions = {
    projectDir: dir,
    cwd: Deno.cwd(),
    env,
    out,
    buildpacks: flagList(args, "buildpack"),
    envFlags: flagList(args, "env"),
    envFiles: flagList(args, "env-file"),
    clearCache: flagBool(args, "clear-cache"),
    force: flagBool(args, "force"),
    builder: flagString(args, "builder"),
    runImage: flagString(args, "run-image"),
    pullPolicy: pullPolicy(flagString(args, "pull-policy")),
    insecureRegistries: flagList(args, "insecure-registry"),
    platformApi: flagString(args, "platform-api"),
    verbose: "LOCALD_DEBUG" in env,
    isolation: {
      sandbox: typeof args.flags.sandbox === "boolean" ? args.flags.sandbox : undefined,
      network: parseNetwork(flagString(args, "network"), "build"),
      trustBuilder: flagBool(args, "trust-builder"),
    },
    backend: await openBackend(env),
  };
  const viaVm = opts.backend.name !== "native";
  if (flagBool(args, "dry-run")) {
    const { plan, buildEnv, isolation } = await prepareBuild(opts, false);
    if (flagBool(args, "json")) {
      out.json({
        plan,
        platformEnv: Object.keys(buildEnv),
        sandbox: isolation,
        ...(viaVm ? { backend: opts.backend.name } : {}),
      });
    } else {
      console.log(
        `# plan for ${plan.projectDir} (platform API ${plan.platformApi}, lifecycle ${plan.lifecycleVersion})`,
      );
      console.log(`# state: ${plan.stateDir}`);
      if (viaVm) console.log(`# backend: ${opts.backend.name} (${opts.backend.reason})`);
      console.log(
        `# sandbox: ${isolation.sandbox ? `on, network ${isolation.network}` : "off"} ` +
          `(${isolation.reason})`,
      );
      for (const s of plan.steps) {
        console.log(`\n[${s.name}]${s.dropRoot ? "  (unprivileged uid when run as root)" : ""}`);
        console.log(`  cwd:  ${s.cwd}`);
        console.log(`  argv: ${s.argv.map(shellQuote).join(" ")}`);
        for (const [k, v] of Object.entries(s.env).filter(([k]) => k.startsWith("CNB_"))) {
          console.log(`  env:  ${k}=${v}`);
        }
      }
      if (Object.keys(buildEnv).length) {
        console.log(`\n[platform env] ${Object.keys(buildEnv).join(" ")}`);
      }
    }
    return 0;
  }
  const summary = await runBuild(opts);
  if (flagBool(args, "json")) {
    out.json(summary);
  } else if (!summary.skipped) {
    const total = Object.values(summary.durationsMs).reduce((a, b) => a + b, 0);
    out.info(
      `built ${summary.projectDir} with ${
        summary.buildpacks.map((b) => `${b.id}@${b.version}`).join(", ")
      } ` +
        `in ${formatMs(total)}`,
    );
    if (summary.processes.length) {
      out.info(
        `process types: ${
          summary.processes.map((p) => p.type + (p.default ? " (default)" : "")).join(", ")
        }`,
      );
    }
    out.info("next: `locald shell`, `locald exec -- CMD`, or `locald run`");
  }
  return 0;
}

function pullPolicy(v: string | undefined): BuildOptions["pullPolicy"] {
  if (v === undefined) return undefined;
  if (v === "always" || v === "if-not-present" || v === "never") return v;
  throw new UsageError(
    `--pull-policy must be always, if-not-present or never (got "${v}")`,
    "build",
  );
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
