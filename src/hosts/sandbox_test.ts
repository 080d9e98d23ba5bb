import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bwrapArgs,
  FALLBACK_HOME,
  orderMounts,
  sandboxEnv,
  sandboxHome,
  type SandboxOptions,
  sandboxStep,
  systemLayout,
} from "./sandbox.ts";
import type { Step } from "./types.ts";
import { nativeHost } from "./native.ts";
import { spawn } from "./spawn.ts";
import { checkSandbox } from "./sandbox_check.ts";

const opts = (o: Partial<SandboxOptions> = {}): SandboxOptions => ({
  bwrap: "/usr/bin/bwrap",
  uid: 1000,
  gid: 1000,
  system: [{ path: "/usr" }, { path: "/bin", symlink: "usr/bin" }],
  ...o,
});

const step = (s: Partial<Step> = {}): Step => ({
  name: "builder",
  argv: ["/lc/lifecycle/builder"],
  env: { PATH: "/usr/bin:/bin", HOME: "/home/ann", CNB_LAYERS_DIR: "/layers" },
  cwd: "/home/ann/src/app",
  dropRoot: true,
  mounts: [
    { path: "/home/ann/.local/share/locald/projects/app", writable: true },
    { path: "/home/ann/src/app", writable: true },
    { path: "/lc", writable: false },
  ],
  ...s,
});

/** The pairs after a flag, e.g. every `--bind SRC DEST`. */
function pairs(argv: string[], flag: string): string[][] {
  const out: string[][] = [];
  argv.forEach((a, i) => {
    if (a === flag) out.push(flag === "--tmpfs" ? [argv[i + 1]] : [argv[i + 1], argv[i + 2]]);
  });
  return out;
}

Deno.test("bwrapArgs: namespaces, dropped capabilities, private /proc /dev /tmp, empty HOME first", () => {
  const a = bwrapArgs(step(), opts(), "/home/ann");
  for (const f of ["--unshare-all", "--share-net", "--die-with-parent", "--new-session"]) {
    assert.ok(a.includes(f), f);
  }
  assert.deepEqual(a.slice(a.indexOf("--cap-drop"), a.indexOf("--cap-drop") + 2), [
    "--cap-drop",
    "ALL",
  ]);
  assert.deepEqual(pairs(a, "--symlink"), [["usr/bin", "/bin"]]);
  assert.deepEqual(pairs(a, "--ro-bind"), [["/usr", "/usr"], ["/lc", "/lc"]]);
  // The home tmpfs goes before the mounts inside it, so they show through it.
  assert.deepEqual(pairs(a, "--tmpfs"), [["/tmp"], ["/var/tmp"], ["/home/ann"]]);
  const order = a.filter((x) => x === "/home/ann" || x.startsWith("/home/ann/"));
  assert.equal(order[0], "/home/ann");
  assert.deepEqual(a.slice(-3), ["--chdir", "/home/ann/src/app", "--"]);
  assert.deepEqual(a.slice(a.indexOf("--uid"), a.indexOf("--uid") + 4), [
    "--uid",
    "1000",
    "--gid",
    "1000",
  ]);
});

Deno.test("bwrapArgs: --network none drops --share-net; interactive keeps the session", () => {
  const none = bwrapArgs(step(), opts({ network: "none" }), "/home/ann");
  assert.ok(!none.includes("--share-net"));
  assert.ok(none.includes("--unshare-all"));
  const tty = bwrapArgs(step({ interactive: true }), opts(), "/home/ann");
  assert.ok(!tty.includes("--new-session"));
});

Deno.test("bwrapArgs as root: dropRoot steps run as uid 1000, others as 0, capabilities gone", () => {
  const root = opts({ uid: 0, gid: 0 });
  const dropped = bwrapArgs(step(), root, "/root");
  assert.equal(dropped[dropped.indexOf("--uid") + 1], "1000");
  const kept = bwrapArgs(step({ dropRoot: false }), root, "/root");
  assert.equal(kept[kept.indexOf("--uid") + 1], "0");
  assert.ok(kept.includes("--cap-drop"));
});

Deno.test("path remapping: host paths appear elsewhere, parents before children", () => {
  const s = step({
    cwd: "/workspace",
    mounts: [
      { source: "/state/layers", path: "/layers", writable: true },
      { source: "/state/layers/sbom", path: "/layers/sbom", writable: false },
      { source: "/src/app", path: "/workspace", writable: true },
      { path: "/lc", writable: false },
      { path: "/lc", writable: false },
    ],
  });
  const a = bwrapArgs(s, opts(), "/home/ann");
  assert.deepEqual(pairs(a, "--bind"), [["/state/layers", "/layers"], ["/src/app", "/workspace"]]);
  assert.deepEqual(pairs(a, "--ro-bind").slice(1), [["/lc", "/lc"], [
    "/state/layers/sbom",
    "/layers/sbom",
  ]]);
  assert.deepEqual(
    orderMounts([{ path: "/a/b/c", writable: true }, { path: "/a", writable: false }]),
    [
      { path: "/a", writable: false },
      { path: "/a/b/c", writable: true },
    ],
  );
});

Deno.test("HOME: the host's path when usable, else a neutral one; a HOME that is a mount stays", () => {
  assert.equal(sandboxHome("/home/ann/"), "/home/ann");
  assert.equal(sandboxHome("/tmp/t/home"), "/tmp/t/home");
  for (const h of [undefined, "", "/", "relative", "/usr/home", "/etc", "/proc/x"]) {
    assert.equal(sandboxHome(h), FALLBACK_HOME, String(h));
  }
  const a = bwrapArgs(
    step({ mounts: [{ path: "/home/ann", writable: true }] }),
    opts(),
    "/home/ann",
  );
  assert.deepEqual(pairs(a, "--tmpfs"), [["/tmp"], ["/var/tmp"]]);
});

Deno.test("bwrapArgs: a host path inside the same host path bound with the same access is not bound again", () => {
  const mounts = [
    { path: "/tmp", writable: true },
    { path: "/home/ann", writable: true },
    { path: "/home/ann/src/app", writable: true }, // shown by the HOME bind
    { path: "/tmp/t/home", writable: true }, // shown by the /tmp bind
    { path: "/home/ann/.local/share/locald/projects/app/layers", writable: false },
    { path: "/home/ann/src/app/out", source: "/elsewhere", writable: true },
    { path: "/usr/share/x", writable: false },
  ];
  const layers = "/home/ann/.local/share/locald/projects/app/layers";
  const a = bwrapArgs(step({ mounts }), opts(), "/home/ann");
  assert.deepEqual(pairs(a, "--bind"), [
    ["/tmp", "/tmp"],
    ["/home/ann", "/home/ann"],
    ["/elsewhere", "/home/ann/src/app/out"],
  ]);
  // The host's /usr shows /usr/share/x already; the writable HOME does not show layers read-only.
  assert.deepEqual(pairs(a, "--ro-bind"), [["/usr", "/usr"], [layers, layers]]);
  // Over an image's /usr, the host's /usr/share/x is bound.
  const img = bwrapArgs(
    step({ mounts }),
    opts({ system: [{ path: "/usr", source: "/roots/r/usr" }] }),
    "/home/ann",
  );
  assert.deepEqual(pairs(img, "--ro-bind"), [
    ["/roots/r/usr", "/usr"],
    ["/usr/share/x", "/usr/share/x"],
    [layers, layers],
  ]);
});

Deno.test("sandboxEnv keeps the allow-list and CNB_*, drops secrets, points HOME and TMPDIR inside", () => {
  const env = sandboxEnv(
    {
      PATH: "/bin",
      LANG: "C.UTF-8",
      CNB_PLATFORM_API: "0.15",
      GITHUB_TOKEN: "t",
      AWS_SECRET_ACCESS_KEY: "k",
      SSH_AUTH_SOCK: "/s",
      TMPDIR: "/var/folders/x",
      HOME: "/home/ann",
      NPM_TOKEN: "n",
    },
    "/home/ann",
    ["EXTRA"],
  );
  assert.deepEqual(env, {
    PATH: "/bin",
    LANG: "C.UTF-8",
    CNB_PLATFORM_API: "0.15",
    TMPDIR: "/tmp",
    HOME: "/home/ann",
  });
  const host = nativeHost({ uid: 1000 }).wrap(
    sandboxStep(step({ env: { HOME: "/home/ann", GITHUB_TOKEN: "x" } }), opts()),
  );
  assert.equal(host.env.GITHUB_TOKEN, undefined);
  assert.equal(host.argv[0], "/usr/bin/bwrap");
  assert.deepEqual(host.argv.slice(-1), ["/lc/lifecycle/builder"]);
  // As a step (for a VM host to wrap in turn): bwrap maps the uid itself.
  const s = sandboxStep(step(), opts({ uid: 0, gid: 0 }));
  assert.equal(s.argv[0], "/usr/bin/bwrap");
  assert.equal(s.dropRoot, false);
  assert.equal(s.cwd, "/");
});

Deno.test({
  name: "the real runner: a project at /workspace and layers at /layers (what image builds need)",
  ignore: !(await checkSandbox(Deno.env.toObject())).available,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "locald-remap-" });
    try {
      const app = join(root, "app");
      const layers = join(root, "layers");
      await Deno.mkdir(app);
      await Deno.mkdir(layers);
      await Deno.writeTextFile(join(layers, "in"), "from the host's layers dir\n");
      const a = await checkSandbox(Deno.env.toObject());
      const o: SandboxOptions = {
        bwrap: a.bwrap!,
        uid: Deno.uid() ?? 0,
        gid: Deno.gid() ?? 0,
        system: await systemLayout(),
      };
      // As builds compose it: the backend's host wraps the sandboxed step.
      const host = {
        wrap: (s: Step) => nativeHost({ uid: Deno.uid() ?? 0 }).wrap(sandboxStep(s, o)),
      };
      const res = await spawn(
        host.wrap({
          name: "probe",
          argv: [
            "sh",
            "-c",
            "pwd; cat /layers/in; echo made > /workspace/out; " +
            `touch /layers/x 2>/dev/null || echo layers-ro; ls ${root} 2>/dev/null || echo no-host-path; id -u`,
          ],
          env: { PATH: "/usr/bin:/bin", HOME: "/home/locald-test" },
          cwd: "/workspace",
          dropRoot: true,
          mounts: [
            { source: app, path: "/workspace", writable: true },
            { source: layers, path: "/layers", writable: false },
          ],
        }),
        { mode: "capture", echo: false },
      );
      assert.equal(res.code, 0, res.output);
      const uid = Deno.uid() === 0 ? 1000 : Deno.uid();
      assert.equal(
        res.output,
        `/workspace\nfrom the host's layers dir\nlayers-ro\nno-host-path\n${uid}\n`,
      );
      assert.equal(await Deno.readTextFile(join(app, "out")), "made\n");
      assert.equal((await Deno.stat(join(app, "out"))).uid, Deno.uid());
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
