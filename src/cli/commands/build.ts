import type { CommandContext } from "../context.ts";
import { flagBool, flagList, flagString } from "../args.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import type { ImageOptions } from "../../cnb/image.ts";
import { type BuildOptions, planBuild, runBuild } from "../../cnb/build.ts";
import { formatMs } from "../../output.ts";
import { parseNetwork } from "../../config/defaults.ts";
import { openBackend } from "../../hosts/select.ts";
import { shellWord } from "../../util/shell.ts";
import { enclosingProject } from "../../devenv/launch.ts";
import {
  absoluteBuilder,
  absoluteBuildpacks,
  type BuildChoice,
  describeChoice,
  isEmpty,
  projectTomlDigest,
  readChoice,
  saveChoice,
  writeChoice,
} from "../../cnb/choice.ts";

export async function run(ctx: CommandContext): Promise<number> {
  const { args, out, env, dir } = ctx;
  if (args.positionals.length || args.rest.length) {
    throw new UsageError(
      `unexpected argument "${[...args.positionals, ...args.rest][0]}"`,
      "build",
    );
  }
  const backend = await openBackend(ctx);
  // From a subdirectory: the enclosing project, as shell, exec, run and env find it.
  const projectDir = enclosingProject(dir, backend);
  if (projectDir !== dir) {
    out.info(
      `locald: building ${projectDir}, the project ${dir} is part of ` +
        "(a project.toml there makes it a project of its own)",
    );
  }
  if (flagBool(args, "stack") && flagBool(args, "host")) {
    throw new UsageError("--stack and --host are two userlands: pick one", "build");
  }
  const image = await imageOptions(args, ctx, projectDir);
  const choice = await buildChoice(args, out, projectDir, backend.projectPaths(projectDir).state);
  const opts: BuildOptions = {
    projectDir,
    cwd: Deno.cwd(),
    env,
    dirs: ctx.dirs,
    out,
    buildpacks: choice.buildpacks,
    envFlags: flagList(args, "env"),
    envFiles: flagList(args, "env-file"),
    clearCache: flagBool(args, "clear-cache"),
    force: flagBool(args, "force"),
    builder: choice.builder,
    runImage: choice.runImage,
    pullPolicy: pullPolicy(flagString(args, "pull-policy")),
    insecureRegistries: flagList(args, "insecure-registry"),
    image,
    platformApi: flagString(args, "platform-api"),
    defaultProcess: flagString(args, "default-process"),
    execEnv: flagString(args, "exec-env"),
    verbose: "LOCALD_DEBUG" in env,
    isolation: {
      sandbox: typeof args.flags.sandbox === "boolean" ? args.flags.sandbox : undefined,
      network: parseNetwork(flagString(args, "network"), "build"),
      trustBuilder: flagBool(args, "trust-builder"),
    },
    backend,
    userland: flagBool(args, "stack") ? "stack" : flagBool(args, "host") ? "host" : undefined,
  };
  const viaVm = opts.backend.name !== "native";
  if (flagBool(args, "dry-run")) {
    const { plan, buildEnv, isolation, userland } = await planBuild(opts);
    if (flagBool(args, "json")) {
      out.json({
        plan,
        platformEnv: Object.keys(buildEnv),
        sandbox: isolation,
        userland,
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
      console.log(`# userland: ${userland.mode} (${userland.why})`);
      // The platform variables every phase shares, once; then what each phase adds.
      const cnb = (env: Record<string, string>) =>
        Object.entries(env).filter(([k]) => k.startsWith("CNB_"));
      const common = cnb(plan.steps[0].env).filter(([k, v]) =>
        plan.steps.every((s) => s.env[k] === v)
      );
      const shared = new Set(common.map(([k]) => k));
      console.log("\n[every phase]");
      for (const [k, v] of common) console.log(`  env:  ${k}=${v}`);
      for (const s of plan.steps) {
        console.log(`\n[${s.name}]${s.dropRoot ? "  (unprivileged uid when run as root)" : ""}`);
        console.log(`  cwd:  ${s.cwd}`);
        console.log(`  argv: ${s.argv.map(shellWord).join(" ")}`);
        for (const [k, v] of cnb(s.env).filter(([k]) => !shared.has(k))) {
          console.log(`  env:  ${k}=${v}`);
        }
      }
      if (Object.keys(buildEnv).length) {
        console.log(`\n[platform env] ${Object.keys(buildEnv).join(" ")}`);
      }
    }
    return 0;
  }
  if (flagBool(args, "save")) {
    if (await saveChoice(projectDir, choice)) {
      out.info(`locald: wrote ${describeChoice(choice)} into ${projectDir}/project.toml`);
    }
    choice.projectToml = await projectTomlDigest(projectDir);
  }
  const summary = await runBuild(opts);
  await writeChoice(backend.projectPaths(projectDir).state, choice);
  if (flagBool(args, "json")) {
    out.json(summary);
  } else if (!summary.skipped) {
    const total = Object.values(summary.durationsMs).reduce((a, b) => a + b, 0);
    out.info(
      `built ${summary.projectDir} with ${
        summary.buildpacks.map((b) => `${b.id}@${b.version}`).join(", ")
      } ` +
        `in ${formatMs(total)}` +
        (summary.execEnv ? ` (execution environment: ${summary.execEnv})` : ""),
    );
    if (summary.processes.length) {
      out.info(
        `process types: ${
          summary.processes.map((p) => p.type + (p.default ? " (default)" : "")).join(", ")
        }`,
      );
    }
    if (summary.image) {
      const img = summary.image;
      out.info(`image ${img.ref}${img.digest ? ` (${img.digest})` : ""}`);
      if (img.layout) {
        out.info(`written to ${img.layout}: try \`skopeo inspect oci:${img.layout}\``);
      } else out.info(`pushed: try \`skopeo inspect docker://${img.ref}\``);
    } else {
      out.info("next: `locald shell`, `locald exec -- CMD`, or `locald run`");
    }
  }
  return 0;
}

/**
 * -B, -b and --run-image: as given, else what the last build of the project was given (while
 * project.toml is unchanged), said in one line. --save is checked here, before anything runs.
 */
async function buildChoice(
  args: CommandContext["args"],
  out: CommandContext["out"],
  projectDir: string,
  stateDir: string,
): Promise<BuildChoice> {
  const projectToml = await projectTomlDigest(projectDir);
  let choice: BuildChoice = {
    builder: absoluteBuilder(flagString(args, "builder"), Deno.cwd()),
    buildpacks: await absoluteBuildpacks(flagList(args, "buildpack"), Deno.cwd()),
    runImage: flagString(args, "run-image"),
    projectToml,
  };
  const last = isEmpty(choice) ? await readChoice(stateDir) : undefined;
  if (last && !isEmpty(last)) {
    if (last.projectToml === projectToml) {
      choice = last;
      out.info(
        `locald: building as last time: ${describeChoice(last)} (-B or -b choose again` +
          (flagBool(args, "save") ? "" : "; --save writes this into project.toml") + ")",
      );
    } else {
      out.info(
        `locald: project.toml changed since the build with ${describeChoice(last)}: ` +
          "building as project.toml says",
      );
    }
  }
  if (flagBool(args, "save")) {
    if (!choice.builder && !choice.buildpacks.length) {
      throw new LocaldError("--save has nothing to write: no builder or buildpacks named", {
        hint: "name them: `locald build --save -B REF` or `locald build --save -b ID`",
        exitCode: ExitCode.input,
      });
    }
    await saveChoice(projectDir, choice, true);
  }
  return choice;
}

/** --export [--layout-dir DIR] [-t NAME] and --publish REF, checked before anything runs. */
async function imageOptions(
  args: CommandContext["args"],
  ctx: Pick<CommandContext, "dirs">,
  dir: string,
): Promise<ImageOptions | undefined> {
  const publish = flagString(args, "publish");
  const exportLayout = flagBool(args, "export");
  const tag = flagString(args, "tag");
  const layoutDir = flagString(args, "layout-dir");
  if (publish && exportLayout) {
    throw new UsageError("--export and --publish are two ways to export: pick one", "build");
  }
  if (!exportLayout && !publish) {
    if (tag || layoutDir) {
      throw new UsageError(`${tag ? "-t" : "--layout-dir"} goes with --export`, "build");
    }
    return undefined;
  }
  // A name the exporter would refuse (`-t MyApp`: references are lowercase) stops the build
  // before it starts, not after every phase ran.
  const { parseReference } = await import("../../oci/reference.ts");
  if (publish) {
    parseReference(publish);
    return { ref: publish, mode: "registry", layoutDir: "" };
  }
  const { basename, dirname, join, resolve } = await import("../../util/path.ts");
  const name = tag ?? (basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-") || "app");
  const ref = name.includes(":") || name.includes("@") ? name : `${name}:latest`;
  parseReference(ref);
  const owned = ctx.dirs.images;
  const out = layoutDir ? resolve(layoutDir) : join(owned, ref.replace(/[/:@]+/g, "_"));
  // An unwritable destination fails now, not after the whole build.
  try {
    // The directory that will hold `out` (mkdir of `out` itself would make it).
    await Deno.mkdir(dirname(out), { recursive: true });
    const probe = join(dirname(out), `.locald-probe-${Deno.pid}`);
    await Deno.writeTextFile(probe, "");
    await Deno.remove(probe);
  } catch (e) {
    throw new LocaldError(`cannot write the image layout to ${out}: ${(e as Error).message}`, {
      hint: "choose a writable directory with --layout-dir",
      exitCode: ExitCode.input,
    });
  }
  // What is there now is the user's unless locald wrote it: checked before anything runs.
  const { checkLayoutDestination } = await import("../../cnb/image.ts");
  await checkLayoutDestination(out, dir, owned);
  return { ref, mode: "layout", layoutDir: out, ownedDir: owned };
}

function pullPolicy(v: string | undefined): BuildOptions["pullPolicy"] {
  if (v === undefined) return undefined;
  if (v === "always" || v === "if-not-present" || v === "never") return v;
  throw new UsageError(
    `--pull-policy must be always, if-not-present or never (got "${v}")`,
    "build",
  );
}
