/**
 * The flattened stream (src/oci/flatten.ts) extracted by GNU tar gives the same tree as the
 * layer applier (src/oci/apply.ts) for the same layers: names, kinds, modes, link targets,
 * contents and hard-link groups; hostile layers are refused by both with the same message,
 * before anything is written. WSL extracts root filesystems this way inside the distribution.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { LayerApplier } from "../src/oci/apply.ts";
import { type FlatLayer, flattenLayers, tarHeader } from "../src/oci/flatten.ts";
import { type Entry, layer } from "./support/images.ts";
import { MOUNT_POINTS } from "../src/oci/rootfs.ts";
import { userlandLayer } from "./support/stack_images.ts";
import { stackSystem } from "../src/hosts/stack.ts";
import { readLayout, RECORDED_SHELLS, rootHasFile, rootIdentity } from "../src/oci/root_layout.ts";
import type { Step } from "../src/hosts/types.ts";

async function blobs(dir: string, layers: Entry[][]): Promise<FlatLayer[]> {
  const out: FlatLayer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const l = await layer(layers[i], i % 2 ? "zstd" : "gzip");
    const path = join(dir, `layer-${i}`);
    await Deno.writeFile(path, l.blob);
    out.push({ path, compression: i % 2 ? "zstd" : "gzip", label: `layer ${i + 1} of test` });
  }
  return out;
}

/** Every entry under `root`: kind, mode, link target or content, and its hard-link group. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(root, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const p = join(root, r);
      const st = Deno.lstatSync(p);
      const mode = (st.mode! & 0o7777).toString(8);
      if (st.isSymlink) out[r] = `link -> ${Deno.readLinkSync(p)}`;
      else if (st.isDirectory) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else {
        const first = inodes.get(st.ino!) ?? r;
        inodes.set(st.ino!, first);
        const bytes = Deno.readFileSync(p);
        const body = bytes.length > 256
          ? createHash("sha256").update(bytes).digest("hex")
          : JSON.stringify(new TextDecoder().decode(bytes));
        out[r] = `file ${mode} ${body}` +
          (first !== r ? ` =${first}` : "");
      }
    }
  };
  walk("");
  // Hard-link groups: name each group by its first member on both sides.
  return out;
}

async function viaApplier(dir: string, layers: FlatLayer[]): Promise<string> {
  const root = join(dir, "applied");
  await Deno.mkdir(root);
  const a = new LayerApplier(root);
  for (const l of layers) await a.apply(l.path, l.compression, l.label);
  // What rootfs.ts adds after the applier.
  for (const rel of MOUNT_POINTS) {
    const etc = await Deno.lstat(join(root, "etc")).catch(() => undefined);
    if (!etc?.isDirectory) break;
    if (await Deno.lstat(join(root, rel)).then(() => true, () => false)) continue;
    await Deno.writeFile(join(root, rel), new Uint8Array(), { mode: 0o644 });
  }
  return root;
}

async function viaTar(dir: string, layers: FlatLayer[]): Promise<string> {
  const root = join(dir, "tarred");
  await Deno.mkdir(root);
  const f = await flattenLayers(layers, MOUNT_POINTS);
  const p = new Deno.Command("tar", {
    args: ["-x", "-p", "-m", "--no-same-owner", "-f", "-", "-C", root],
    stdin: "piped",
    stderr: "piped",
  }).spawn();
  await f.stream.pipeTo(p.stdin);
  const r = await p.output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return root;
}

async function same(layers: Entry[][], below: FlatLayer[] = []) {
  const dir = await Deno.makeTempDir();
  try {
    const ls = [...below, ...await blobs(dir, layers)];
    const a = snapshot(await viaApplier(dir, ls));
    const b = snapshot(await viaTar(dir, ls));
    assert.deepEqual(b, a);
    return a;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const long = "d".repeat(90) + "/" + "ñ".repeat(60);

Deno.test("flattened stream = applier: whiteouts, opaque dirs, replacements, hard links, modes, long names", async () => {
  const tree = await same([
    [
      { name: "etc/", type: "directory" },
      { name: "etc/keep", content: "keep" },
      { name: "etc/gone", content: "gone" },
      { name: "etc/os-release", type: "symlink", linkname: "../usr/lib/os-release" },
      { name: "usr/lib/os-release", content: "ID=debian\nVERSION_CODENAME=trixie\n" },
      { name: "bin", type: "symlink", linkname: "usr/bin" },
      { name: "usr/bin/tool", content: "v1", mode: 0o4755 },
      { name: "usr/bin/tool-alias", type: "link", linkname: "usr/bin/tool" },
      { name: "opq/", type: "directory" },
      { name: "opq/old1", content: "1" },
      { name: "opq/sub/old2", content: "2" },
      { name: "dir-gone/x", content: "x" },
      { name: "becomes-dir", content: "file" },
      { name: "becomes-file/", type: "directory", mode: 0o555 },
      { name: "becomes-file/child", content: "c" },
      { name: "ro/", type: "directory", mode: 0o500 },
      { name: "ro/f", content: "ro", mode: 0o444 },
      { name: "dev/null", type: "character-device" },
      { name: `${long}/f`, content: "long" },
      { name: "hl-src", content: "old body" },
      { name: "hl", type: "link", linkname: "hl-src" },
      { name: "abs-link", type: "symlink", linkname: "/etc/keep" },
    ],
    [
      { name: "opq/new", content: "new" },
      { name: "opq/.wh..wh..opq", content: "" },
      { name: "etc/.wh.gone", content: "" },
      { name: ".wh.dir-gone", content: "" },
      { name: "opq/sub2/f", content: "f" },
      { name: "becomes-dir/", type: "directory" },
      { name: "becomes-dir/inside", content: "in" },
      { name: "becomes-file", content: "now a file", mode: 0o600 },
      { name: "usr/bin/tool", content: "v2" }, // the alias keeps v1, as an inode does
      { name: "hl-src", content: "new body" },
      { name: "hl2", type: "link", linkname: "hl" },
      { name: "etc/hosts", type: "symlink", linkname: "/run/hosts" },
      { name: `${long}/g`, type: "link", linkname: `${long}/f` },
    ],
  ]);
  // The cases are really there (a tree that dropped them would not compare).
  assert.equal(tree["usr/bin/tool"], 'file 644 "v2"');
  assert.match(tree["usr/bin/tool-alias"], /^file 755 "v1"/);
  assert.equal(tree["becomes-dir"], "dir 755");
  assert.equal(tree["becomes-file"], 'file 600 "now a file"');
  assert.equal(tree["ro"], "dir 700");
  assert.equal(tree["etc/resolv.conf"], 'file 644 ""');
  assert.equal(tree["etc/hosts"], "link -> /run/hosts");
  assert.ok(!("etc/gone" in tree) && !("dir-gone" in tree) && !("opq/old1" in tree));
  assert.ok(!("dev/null" in tree) && "dev" in tree);
  assert.match(tree["hl2"], /^file 644 "old body" =hl$/);
  assert.match(tree[`${long}/g`], /"long" =/);
});

Deno.test("flattened stream: os-release read through the image's links; size counted once per file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ls = await blobs(dir, [[
      { name: "etc/os-release", type: "symlink", linkname: "/usr/lib/os-release" },
      { name: "usr/lib/os-release", content: "ID=debian\n" },
      { name: "usr/lib/os-release-copy", type: "link", linkname: "usr/lib/os-release" },
    ]]);
    const f = await flattenLayers(ls);
    assert.equal(f.osRelease(), "", "read only with the stream");
    await f.stream.pipeTo(new WritableStream());
    assert.equal(f.osRelease(), "ID=debian\n");
    assert.equal(f.tree.size(), "ID=debian\n".length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flattened stream: hostile layers refused as the applier refuses them, before any byte", async () => {
  const cases: [string, Entry[][]][] = [
    ["dotdot", [[{ name: "../outside/escape", content: "x" }]]],
    ["absolute", [[{ name: "/outside/escape", content: "x" }]]],
    ["symlink escape", [[
      { name: "link", type: "symlink", linkname: "/" },
      { name: "link/escape", content: "x" },
    ]]],
    ["symlinked dir across layers", [
      [{ name: "d", type: "symlink", linkname: "../.." }],
      [{ name: "d/escape", content: "x" }],
    ]],
    ["beneath a file", [[{ name: "f", content: "x" }, { name: "f/g", content: "y" }]]],
    ["whiteout beneath a symlink", [[
      { name: "d", type: "symlink", linkname: "/etc" },
      { name: "d/.wh.passwd", content: "" },
    ]]],
    ["hardlink escape", [[{ name: "hl", type: "link", linkname: "../outside/secret" }]]],
    ["hardlink to a symlink", [[
      { name: "s", type: "symlink", linkname: "/etc/shadow" },
      { name: "hl", type: "link", linkname: "s" },
    ]]],
    ["hardlink to nothing", [[{ name: "hl", type: "link", linkname: "missing" }]]],
    ["hardlink to a removed file", [
      [{ name: "f", content: "x" }],
      [{ name: ".wh.f", content: "" }, { name: "hl", type: "link", linkname: "f" }],
    ]],
  ];
  for (const [name, layers] of cases) {
    const dir = await Deno.makeTempDir();
    try {
      const ls = await blobs(dir, layers);
      let applied = "";
      try {
        await viaApplier(dir, ls);
      } catch (e) {
        applied = (e as Error).message;
      }
      assert.match(applied, /^refusing layer \d of test entry /, `${name}: the applier refuses`);
      await assert.rejects(flattenLayers(ls), (e: Error) => {
        assert.equal(e.message, applied, name);
        assert.equal((e as { exitCode?: number }).exitCode, 5);
        return true;
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("tar headers: long and non-ASCII names go in PAX records GNU tar reads", async () => {
  const name = "a/" + "é".repeat(80);
  const h = tarHeader(name, "0", 0o640, 0);
  const p = new Deno.Command("tar", {
    args: ["-t", "-v", "-f", "-"],
    stdin: "piped",
    stdout: "piped",
  })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(h);
  await w.write(new Uint8Array(1024));
  await w.close();
  const out = new TextDecoder().decode((await p.output()).stdout);
  assert.match(out, /^-rw-r----- .* a\/é{80}\n$/);
});

Deno.test("flattened stream = applier on a real Debian trixie userland with a layer over it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const debian = join(dir, "debian.tar.gz");
    await Deno.writeFile(debian, (await userlandLayer("run")).blob);
    const tree = await same([[
      { name: "usr/share/doc/.wh..wh..opq", content: "" },
      { name: "usr/share/doc/only", content: "kept" },
      { name: "etc/.wh.issue", content: "" },
      { name: "usr/bin/perl", content: "replaced" },
    ]], [{ path: debian, compression: "gzip", label: "layer 0 of debian" }]);
    assert.ok(Object.keys(tree).length > 3000, `${Object.keys(tree).length} entries`);
    assert.equal(tree["bin"], "link -> usr/bin");
    assert.ok(!("etc/issue" in tree));
    assert.deepEqual(
      Object.keys(tree).filter((k) => k.startsWith("usr/share/doc/")),
      ["usr/share/doc/only"],
    );
    // perl's versioned name keeps the old body, as the inode it shared does.
    const versioned = Object.keys(tree).find((k) => /^usr\/bin\/perl5\.[\d.]+$/.test(k))!;
    assert.doesNotMatch(tree[versioned], /"replaced"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("root layout: the record from the flattened model, with no tree on disk, gives the bwrap entries, shells and passwd the extracted tree gives", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const debian = join(dir, "debian.tar.gz");
    await Deno.writeFile(debian, (await userlandLayer("run")).blob);
    const ls = [{ path: debian, compression: "gzip" as const, label: "layer 0 of debian" }];
    const applied = await viaApplier(dir, ls);
    // The model's record, as WSL keeps it: the stream is read to its end (passwd and group
    // are taken from it on the way), and extracted nowhere.
    const f = await flattenLayers(ls, MOUNT_POINTS);
    await f.stream.pipeTo(new WritableStream());
    const rec = f.layout();
    // Read from the real tree, as a native extraction records it: the same record.
    assert.deepEqual(rec, readLayout(applied));
    assert.equal(rec.entries["bin"], "l:usr/bin");
    assert.match(rec.passwd, /^root:x:0:0:/m);
    // A build step and a dev command of a Windows project, with passwd/group bound over the
    // image's: the entries from the record, for a root that does not exist on this side, are
    // those read from the tree.
    const nowhere = join(dir, "no-such-root");
    const step: Step = {
      name: "t",
      argv: ["/bin/sh"],
      env: { HOME: "/home/cnb" },
      cwd: "/",
      dropRoot: false,
      mounts: [
        { path: "/workspace", writable: true },
        { path: "/layers", writable: true },
        { source: "/x", path: "/mnt/c/Users/Me/My App", writable: true },
      ],
    };
    const etc = { "/etc/passwd": "/state/passwd", "/etc/group": "/state/group" };
    for (const dev of [false, true]) {
      const o = { guestRoot: applied, etc, dev, isFile: () => false };
      const fromTree = stackSystem(step, { ...o, root: applied });
      const fromRecord = stackSystem(step, { ...o, root: nowhere, layout: rec });
      assert.deepEqual(fromRecord, fromTree);
      assert.ok(fromTree.some((e) => e.path === "/bin" && e.symlink === "usr/bin"));
      // /mnt is opened up for the project's mount point; /usr is bound whole.
      assert.ok(fromTree.some((e) => e.path === "/mnt" && e.dir));
      assert.ok(fromTree.some((e) => e.path === "/usr" && e.source === `${applied}/usr`));
    }
    for (const sh of [...RECORDED_SHELLS, "/usr/local/bin/nu"]) {
      assert.equal(rootHasFile(nowhere, sh, rec), rootHasFile(applied, sh), sh);
    }
    assert.equal(rootHasFile(nowhere, "/bin/sh", rec), true);
    assert.deepEqual(rootIdentity(nowhere, rec), rootIdentity(applied));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
