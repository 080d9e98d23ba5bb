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
import { removeIfExistsSync } from "../util/fs.ts";
import type { LayerRecord } from "./record.ts";

const NOT_LAYER_TOML = new Set(["launch.toml", "build.toml", "store.toml"]);

export interface LayerState {
  buildpackDir: string;
  name: string;
  types: { build: boolean; launch: boolean; cache: boolean };
  /** `${ino}:${mtime}` of the layer directory, to tell re-use from re-creation. */
  stamp?: string;
}

function stampOf(path: string): string | undefined {
  try {
    const st = Deno.statSync(path);
    return `${st.ino}:${st.mtime?.getTime()}`;
  } catch {
    return undefined;
  }
}

/**
 * Every `<layers>/<bp>/<layer>.toml` with its types. Synchronous calls inside (as in the rest
 * of this module): a build makes dozens of these small reads, and each await is a round trip
 * to another thread.
 */
export function scanLayers(
  layersDir: string,
  buildpackDirs: string[],
): LayerState[] {
  const out: LayerState[] = [];
  for (const bpDir of buildpackDirs) {
    let entries: Deno.DirEntry[];
    try {
      entries = Array.from(Deno.readDirSync(join(layersDir, bpDir)));
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
        doc = parseToml(Deno.readTextFileSync(file), file);
      } catch { /* an unreadable layer.toml is treated as all-false */ }
      const t = doc.types ?? {};
      out.push({
        buildpackDir: bpDir,
        name,
        types: { build: t.build === true, launch: t.launch === true, cache: t.cache === true },
        stamp: stampOf(join(layersDir, bpDir, name)),
      });
    }
  }
  return out;
}

export function buildpackDirsIn(layersDir: string): string[] {
  const dirs: string[] = [];
  try {
    for (const e of Deno.readDirSync(layersDir)) {
      if (e.isDirectory && !["config", "sbom", "generated"].includes(e.name)) dirs.push(e.name);
    }
  } catch { /* no layers yet */ }
  return dirs;
}

/**
 * After a build, leave only launch layers where the launcher looks: cached build layers move
 * to `holdDir` until the next build, build-only layers go.
 */
export function hideNonLaunchLayers(layersDir: string, bpDirs: string[], holdDir: string) {
  removeIfExistsSync(holdDir);
  for (const l of scanLayers(layersDir, bpDirs)) {
    if (l.types.launch) continue;
    const dir = join(layersDir, l.buildpackDir, l.name);
    if (l.types.cache) {
      Deno.mkdirSync(join(holdDir, l.buildpackDir), { recursive: true });
      try {
        Deno.renameSync(dir, join(holdDir, l.buildpackDir, l.name));
      } catch { /* a cached layer without content: only its metadata was kept */ }
    } else {
      removeIfExistsSync(dir);
      removeIfExistsSync(`${dir}.toml`);
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
export function profileScripts(layersDir: string, bpDirs: string[]): string[] {
  const out: string[] = [];
  for (const bp of bpDirs) {
    let layers: string[];
    try {
      layers = Array.from(Deno.readDirSync(join(layersDir, bp)))
        .filter((e) => e.isDirectory).map((e) => e.name).sort();
    } catch {
      continue;
    }
    for (const layer of layers) {
      try {
        const files = Array.from(Deno.readDirSync(join(layersDir, bp, layer, "profile.d")))
          .filter((e) => !e.isDirectory).map((e) => e.name).sort();
        for (const f of files) out.push(join(layersDir, bp, layer, "profile.d", f));
      } catch { /* no profile.d */ }
    }
  }
  return out;
}
