/** `locald builder pull|inspect|ls|rm`: builders from OCI registries, no Docker. */
import type { CommandContext } from "../registry.ts";
import { flagList, flagString } from "../args.ts";
import { formatAgo, formatBytes } from "../output.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import {
  type BuilderInfo,
  DEFAULT_BUILDER,
  listBuilders,
  pullBuilder,
  type PullPolicy,
  removeBuilder,
} from "../../oci/builder.ts";
import { parsePlatform } from "../../oci/manifest.ts";

const POLICIES = ["always", "if-not-present", "never"];

export async function run({ args, out, env }: CommandContext): Promise<number> {
  const [sub, ...rest] = args.positionals;
  const json = args.flags.json === true;
  const platformFlag = flagString(args, "platform");
  const platform = platformFlag ? parsePlatform(platformFlag) : undefined;
  const insecureRegistries = flagList(args, "insecure-registry");
  const one = (what: string) => {
    if (rest.length > 1) throw new UsageError(`${what} takes one reference`, "builder");
    return rest[0] ?? DEFAULT_BUILDER;
  };
  switch (sub) {
    case "pull":
    case "inspect": {
      const policy = (flagString(args, "pull-policy") ??
        (sub === "pull" ? "always" : "if-not-present")) as PullPolicy;
      if (!POLICIES.includes(policy)) {
        throw new UsageError(`--pull-policy must be one of ${POLICIES.join(", ")}`, "builder");
      }
      const info = await pullBuilder(one(sub), {
        env,
        out,
        platform,
        insecureRegistries,
        pullPolicy: policy,
      });
      if (json) out.json(summary(info));
      else if (sub === "inspect") console.log(describe(info));
      else out.info(`${info.ref} ${info.digest} (${info.platform}) ready at ${info.cnbDir}`);
      return ExitCode.ok;
    }
    case "ls": {
      if (rest.length) throw new UsageError("ls takes no arguments", "builder");
      const all = await listBuilders(env);
      if (json) out.json(all);
      else if (!all.length) out.info("no builders pulled yet (try `locald builder pull`)");
      else {
        const rows = all.map((b) => [
          b.ref,
          b.platform,
          b.digest.slice(7, 19),
          formatBytes(b.size),
          formatAgo(b.pulledAt),
        ]);
        const head = ["REFERENCE", "PLATFORM", "DIGEST", "SIZE", "PULLED"];
        const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
        for (const r of [head, ...rows]) {
          console.log(r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd());
        }
      }
      return ExitCode.ok;
    }
    case "rm": {
      if (!rest.length) throw new UsageError("rm needs a reference", "builder");
      for (const ref of rest) {
        if (!(await removeBuilder(ref, env))) {
          throw new LocaldError(`builder ${ref} is not pulled`, {
            hint: "`locald builder ls` lists the builders locald has",
            exitCode: ExitCode.input,
          });
        }
        if (!json) out.info(`removed ${ref}`);
      }
      if (json) out.json({ removed: rest });
      return ExitCode.ok;
    }
    case undefined:
      throw new UsageError("needs a subcommand: pull, inspect, ls or rm", "builder");
    default:
      throw new UsageError(`unknown subcommand "${sub}" (pull, inspect, ls, rm)`, "builder");
  }
}

function summary(i: BuilderInfo) {
  const lc = i.metadata?.lifecycle;
  return {
    ref: i.ref,
    digest: i.digest,
    indexDigest: i.indexDigest,
    platform: i.platform,
    description: i.metadata?.description,
    cnbDir: i.cnbDir,
    runImage: i.runImage,
    runImages: i.runImages,
    buildpacks: buildpackList(i),
    order: i.order,
    lifecycle: {
      version: lc?.version,
      platformApis: lc?.apis?.platform?.supported ?? [],
      buildpackApis: lc?.apis?.buildpack?.supported ?? [],
      bundled: i.lifecycleDir !== undefined,
    },
    buildConfigEnv: Object.keys(i.buildConfigEnv),
    imageEnv: i.imageEnv,
    size: i.size,
  };
}

function buildpackList(i: BuilderInfo): { id: string; version?: string }[] {
  if (i.metadata?.buildpacks?.length) {
    return i.metadata.buildpacks.map((b) => ({ id: b.id, version: b.version }));
  }
  const out: { id: string; version?: string }[] = [];
  for (const [id, versions] of Object.entries(i.buildpackLayers ?? {})) {
    for (const version of Object.keys(versions)) out.push({ id, version });
  }
  return out;
}

function describe(i: BuilderInfo): string {
  const s = summary(i);
  const lines = [
    `Builder:     ${s.ref}`,
    `Digest:      ${s.digest} (${s.platform})`,
  ];
  if (s.indexDigest) lines.push(`Index:       ${s.indexDigest}`);
  if (s.description) lines.push(`Description: ${s.description}`);
  lines.push(`Size:        ${formatBytes(s.size)} compressed, /cnb at ${s.cnbDir}`);
  if (s.runImages.length) {
    for (const r of s.runImages) {
      lines.push(
        `Run image:   ${r.image}${r.mirrors.length ? ` (mirrors: ${r.mirrors.join(", ")})` : ""}`,
      );
    }
  } else lines.push("Run image:   (none; pass --run-image)");
  const lc = s.lifecycle;
  lines.push(
    `Lifecycle:   ${lc.version ?? "unknown version"}${
      lc.bundled ? " (bundled)" : " (not bundled)"
    }`,
  );
  if (lc.platformApis.length) lines.push(`  Platform APIs:  ${lc.platformApis.join(", ")}`);
  if (lc.buildpackApis.length) lines.push(`  Buildpack APIs: ${lc.buildpackApis.join(", ")}`);
  lines.push("Buildpacks:");
  if (!s.buildpacks.length) lines.push("  (none)");
  for (const b of s.buildpacks) lines.push(`  ${b.id}${b.version ? `@${b.version}` : ""}`);
  lines.push("Detection order:");
  if (!s.order.length) lines.push("  (empty)");
  s.order.forEach((g, n) => {
    lines.push(`  Group #${n + 1}:`);
    for (const b of g.group ?? []) {
      lines.push(
        `    ${b.id}${b.version ? `@${b.version}` : ""}${b.optional ? " (optional)" : ""}`,
      );
    }
  });
  const envKeys = [...s.buildConfigEnv, ...Object.keys(s.imageEnv)];
  if (envKeys.length) lines.push(`Build env:   ${envKeys.join(", ")}`);
  return lines.join("\n");
}
