/**
 * bench/rootfs_flatten.ts's extraction side: one image's verified layers onto DEST, either by
 * the layer applier (`apply`, how roots are written natively and on Lima) or as the flattened
 * stream into GNU tar (`flatten`, how WSL writes them inside the distribution).
 * Args: apply|flatten DEST LAYER:COMPRESSION...
 */
import { LayerApplier } from "../../src/oci/apply.ts";
import { type FlatLayer, flattenLayers } from "../../src/oci/flatten.ts";
import { MOUNT_POINTS } from "../../src/oci/rootfs.ts";
import type { Compression } from "../../src/oci/manifest.ts";

const [mode, dest, ...specs] = Deno.args;
const layers: FlatLayer[] = specs.map((s, i) => {
  const at = s.lastIndexOf(":");
  return { path: s.slice(0, at), compression: s.slice(at + 1) as Compression, label: `layer ${i}` };
});
await Deno.mkdir(dest, { recursive: true });
if (mode === "apply") {
  const a = new LayerApplier(dest);
  for (const l of layers) await a.apply(l.path, l.compression, l.label);
} else {
  const f = await flattenLayers(layers, MOUNT_POINTS);
  const tar = new Deno.Command("tar", {
    args: ["-x", "-p", "-m", "--no-same-owner", "-f", "-", "-C", dest],
    stdin: "piped",
  }).spawn();
  await f.stream.pipeTo(tar.stdin);
  if (!(await tar.status).success) Deno.exit(1);
}
