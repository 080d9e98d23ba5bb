/** `locald builder pull|inspect|ls|rm`: builders from OCI registries, no Docker. */
import type { CommandContext } from "../context.ts";
import { flagList, flagString } from "../args.ts";
import { formatAgo, formatBytes } from "../../output.ts";
import { ExitCode, LocaldError, UsageError } from "../../errors.ts";
import { DEFAULT_BUILDER } from "../../config/defaults.ts";
import type { PullPolicy } from "../../oci/builder.ts";
import { type BuilderInfo, localBuilderPath } from "../../oci/builder_cache.ts";
import { parsePlatform } from "../../oci/manifest.ts";
import { join } from "../../util/path.ts";

// Fetching and extracting (builder.ts: node:crypto, TOML, the blob store) load only when a
// pull has something to fetch, or for ls and rm: a warm pull needs warm_pull.ts alone.
const oci = () => import("../../oci/builder.ts");

const POLICIES = ["always", "if-not-present", "never"];

export async function run({ args, out, env, dirs }: CommandContext): Promise<number> {
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
      const ref = one(sub);
      const verify = args.flags.verify === true;
      if (verify && policy !== "always") {
        throw new UsageError(
          "--verify checks the extracted builder on a pull: it needs --pull-policy always",
          "builder",
        );
      }
      // A builder.toml (as `pack builder create` reads it) is laid out locally, not pulled.
      const local = localBuilderPath(ref, Deno.cwd());
      const info = local
        ? await (await import("../../cnb/local_builder.ts")).loadLocalBuilder(local, {
          env,
          dirs,
          out,
          insecureRegistries,
          network: true,
        })
        : await pull(ref, { env, dirs, out, platform, insecureRegistries, pullPolicy: policy }, {
          verify,
        });
      if (!json && sub === "pull") {
        out.info(`${info.ref} ${info.digest} (${info.platform}) ready at ${info.cnbDir}`);
        return ExitCode.ok;
      }
      const s = { ...summary(info), ...(await composition(info)) };
      if (json) out.json(s);
      else console.log(describe(s));
      return ExitCode.ok;
    }
    case "ls": {
      if (rest.length) throw new UsageError("ls takes no arguments", "builder");
      const all = await (await oci()).listBuilders(dirs);
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
        if (!(await (await oci()).removeBuilder(ref, dirs))) {
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

/**
 * pullBuilder, by way of a warm pull first under "always" (one manifest request when the
 * builder is here and unchanged; see src/oci/warm_pull.ts).
 */
async function pull(
  ref: string,
  opts: import("../../oci/builder.ts").BuilderPullOptions,
  { verify }: { verify: boolean },
): Promise<BuilderInfo> {
  if (opts.pullPolicy === "always" && !verify) {
    const { warmPull } = await import("../../oci/warm_pull.ts");
    const warm = await warmPull(ref, opts);
    if (warm) return warm;
  }
  return await (await oci()).pullBuilder(ref, { ...opts, verify });
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

type Group = { group: { id: string; version?: string; optional?: boolean }[] }[];
interface NestedEntry {
  id: string;
  version?: string;
  optional?: boolean;
  /** A composite buildpack's own order. */
  order?: { group: NestedEntry[] }[];
}

/**
 * What the builder's files say beyond its labels: its image extensions and their order
 * (order.toml `[[order-extensions]]`), and each composite buildpack's own order, nested.
 */
async function composition(i: BuilderInfo) {
  const { parse } = await import("smol-toml");
  const read = async (p: string) => {
    try {
      // deno-lint-ignore no-explicit-any
      return parse(await Deno.readTextFile(p)) as any;
    } catch {
      return undefined;
    }
  };
  const orderDoc = await read(i.orderPath);
  const orderExtensions: Group = orderDoc?.["order-extensions"] ?? [];
  const extensions: { id: string; version: string }[] = [];
  const extDir = join(i.cnbDir, "extensions");
  for (const id of await names(extDir)) {
    for (const version of await names(join(extDir, id))) {
      const doc = await read(join(extDir, id, version, "extension.toml"));
      extensions.push({ id: String(doc?.extension?.id ?? id.replaceAll("_", "/")), version });
    }
  }
  const nest = async (order: Group, seen: string[]): Promise<{ group: NestedEntry[] }[]> =>
    await Promise.all(order.map(async (g) => ({
      group: await Promise.all((g.group ?? []).map(async (e) => {
        const key = `${e.id}@${e.version ?? ""}`;
        const dir = join(i.buildpacksDir, e.id.replaceAll("/", "_"));
        const version = e.version ?? (await names(dir))[0];
        const doc = version ? await read(join(dir, version, "buildpack.toml")) : undefined;
        const inner: Group | undefined = Array.isArray(doc?.order) ? doc.order : undefined;
        return {
          ...e,
          ...(inner && !seen.includes(key) && seen.length < 8
            ? { order: await nest(inner, [...seen, key]) }
            : {}),
        };
      })),
    })));
  return { order: await nest(i.order, []), extensions, orderExtensions };
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).filter((e) => e.isDirectory || e.isSymlink)
      .map((e) => e.name).sort();
  } catch {
    return [];
  }
}

function describe(
  s: ReturnType<typeof summary> & Awaited<ReturnType<typeof composition>>,
): string {
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
  const groups = (order: { group: NestedEntry[] }[], indent: string) =>
    order.forEach((g, n) => {
      lines.push(`${indent}Group #${n + 1}:`);
      for (const b of g.group ?? []) {
        lines.push(
          `${indent}  ${b.id}${b.version ? `@${b.version}` : ""}${b.optional ? " (optional)" : ""}${
            b.order ? " (composite)" : ""
          }`,
        );
        if (b.order) groups(b.order, `${indent}    `);
      }
    });
  groups(s.order, "  ");
  if (s.extensions.length) {
    lines.push("Extensions:");
    for (const x of s.extensions) lines.push(`  ${x.id}@${x.version}`);
  }
  if (s.orderExtensions.length) {
    lines.push("Extension order:");
    groups(s.orderExtensions, "  ");
  }
  const envKeys = [...s.buildConfigEnv, ...Object.keys(s.imageEnv)];
  if (envKeys.length) lines.push(`Build env:   ${envKeys.join(", ")}`);
  return lines.join("\n");
}
