/**
 * The layers directory is the development environment. Between builds locald treats it the
 * way a platform treats the previous image plus the cache, so buildpacks see exactly what the
 * spec promises them (each build starts a new generation from the last: generations.ts):
 * - `cache = true` layers keep metadata and content (as restored from the cache);
 * - `launch = true`, not cached: only the metadata stays; the content comes back after the
 *   build if the buildpack kept the layer without re-creating it (as the exporter re-uses a
 *   layer from the previous image);
 * - build-only layers and `.ignore`d layers are dropped, and so are the files a buildpack
 *   writes beside its layers (`launch.toml`, `build.toml`, `store.toml`);
 * - after a build, only launch layers stay where the launcher looks (as in an exported image):
 *   cached build layers wait in a holding directory for the next build.
 * - restored metadata loses its `[types]` (Buildpack API 0.6+): a buildpack must declare
 *   again what it wants to keep, or the layer leaves the environment.
 */
import { join } from "../util/path.ts";
import { parseToml } from "../config/toml.ts";
import { removeIfExists } from "../util/fs.ts";
import type { LayerRecord } from "./record.ts";

const NOT_LAYER_TOML = new Set(["launch.toml", "build.toml", "store.toml"]);

export interface LayerState {
  buildpackDir: string;
  name: string;
  types: { build: boolean; launch: boolean; cache: boolean };
  /** `${ino}:${mtime}` of the layer directory, to tell re-use from re-creation. */
  stamp?: string;
}

async function stampOf(path: string): Promise<string | undefined> {
  try {
    const st = await Deno.stat(path);
    return `${st.ino}:${st.mtime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/** Every `<layers>/<bp>/<layer>.toml` with its types. */
export async function scanLayers(
  layersDir: string,
  buildpackDirs: string[],
): Promise<LayerState[]> {
  const out: LayerState[] = [];
  for (const bpDir of buildpackDirs) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(layersDir, bpDir)));
    } catch {
      continue;
    }
    for (const e of entries) {
      if (!e.isFile || !e.name.endsWith(".toml") || NOT_LAYER_TOML.has(e.name)) continue;
      const name = e.name.slice(0, -5);
      const file = join(layersDir, bpDir, e.name);
      // deno-lint-ignore no-explicit-any
      let doc: any = {};
      try {
        doc = parseToml(await Deno.readTextFile(file), file);
      } catch { /* an unreadable layer.toml is treated as all-false */ }
      const t = doc.types ?? {};
      out.push({
        buildpackDir: bpDir,
        name,
        types: { build: t.build === true, launch: t.launch === true, cache: t.cache === true },
        stamp: await stampOf(join(layersDir, bpDir, name)),
      });
    }
  }
  return out;
}

export async function buildpackDirsIn(layersDir: string): Promise<string[]> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir(layersDir)) {
      if (e.isDirectory && !["config", "sbom", "generated"].includes(e.name)) dirs.push(e.name);
    }
  } catch { /* no layers yet */ }
  return dirs;
}

/**
 * After a build, leave only launch layers where the launcher looks: cached build layers move
 * to `holdDir` until the next build, build-only layers go.
 */
export async function hideNonLaunchLayers(layersDir: string, bpDirs: string[], holdDir: string) {
  await removeIfExists(holdDir);
  for (const l of await scanLayers(layersDir, bpDirs)) {
    if (l.types.launch) continue;
    const dir = join(layersDir, l.buildpackDir, l.name);
    if (l.types.cache) {
      await Deno.mkdir(join(holdDir, l.buildpackDir), { recursive: true });
      await Deno.rename(dir, join(holdDir, l.buildpackDir, l.name)).catch(() => {});
    } else {
      await removeIfExists(dir);
      await removeIfExists(`${dir}.toml`);
    }
  }
}

export function layerRecords(
  after: LayerState[],
  before: LayerState[],
  idOf: (bpDir: string) => string,
  /** `<bp dir>/<layer>` of layers re-used another way (their content put back). */
  reusedAlso: Set<string> = new Set(),
): LayerRecord[] {
  const prior = new Map(before.map((l) => [`${l.buildpackDir}/${l.name}`, l.stamp]));
  return after
    .filter((l) => l.types.build || l.types.launch || l.types.cache)
    .map((l) => {
      const was = prior.get(`${l.buildpackDir}/${l.name}`);
      return {
        buildpack: idOf(l.buildpackDir),
        name: l.name,
        ...l.types,
        reused: (was !== undefined && was === l.stamp) ||
          reusedAlso.has(`${l.buildpackDir}/${l.name}`),
      };
    });
}

/** profile.d scripts of every layer, in the launcher's order (buildpack, layer, file). */
export async function profileScripts(layersDir: string, bpDirs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const bp of bpDirs) {
    let layers: string[];
    try {
      layers = (await Array.fromAsync(Deno.readDir(join(layersDir, bp))))
        .filter((e) => e.isDirectory).map((e) => e.name).sort();
    } catch {
      continue;
    }
    for (const layer of layers) {
      try {
        const files = (await Array.fromAsync(Deno.readDir(join(layersDir, bp, layer, "profile.d"))))
          .filter((e) => !e.isDirectory).map((e) => e.name).sort();
        for (const f of files) out.push(join(layersDir, bp, layer, "profile.d", f));
      } catch { /* no profile.d */ }
    }
  }
  return out;
}
