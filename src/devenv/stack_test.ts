import assert from "node:assert/strict";
import { shellCandidates } from "./stack.ts";

Deno.test("shellCandidates: the user's shell, then bash, then sh", () => {
  assert.deepEqual(shellCandidates("/usr/bin/zsh"), [
    "/usr/bin/zsh",
    "/bin/bash",
    "/usr/bin/bash",
    "/bin/sh",
    "/usr/bin/sh",
  ]);
  assert.deepEqual(shellCandidates("/bin/bash")[0], "/bin/bash");
  assert.equal(shellCandidates("/bin/bash").length, 4);
  assert.equal(shellCandidates(undefined)[0], "/bin/bash");
});

Deno.test("runImageStep on WSL: every mount, the root and /etc files are the distribution's paths (C:\\Users\\Ana Lopez\\...)", async () => {
  const { runImageStep } = await import("./stack.ts");
  const { devStep } = await import("./launch.ts");
  const { windowsToWsl } = await import("../hosts/wsl.ts");
  // This side's view of the distribution (\\wsl.localhost\Ubuntu\... on Windows) is a
  // temporary directory here; the project is on C:.
  const distro = await Deno.makeTempDir();
  try {
    const home = "/home/ana";
    const state = "/home/ana/.local/share/locald";
    const rootG = `${state}/oci/rootfs/${"a".repeat(64)}/root`;
    const unc = (g: string) => `\\\\wsl.localhost\\Ubuntu${g.replaceAll("/", "\\")}`;
    const here = (g: string) => `${distro}${g}`;
    // A run image root (host view) without an entry for the user: passwd gets written.
    const root = here(rootG);
    await Deno.mkdir(`${root}/usr/bin`, { recursive: true });
    await Deno.mkdir(`${root}/etc`, { recursive: true });
    await Deno.mkdir(`${root}/home`, { recursive: true });
    await Deno.symlink("usr/bin", `${root}/bin`);
    await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0::/root:/bin/sh\n");
    await Deno.writeTextFile(`${root}/etc/group`, "root:x:0:\n");
    await Deno.mkdir(here(home), { recursive: true });
    const projectDir = "C:\\Users\\Ana Lopez\\My App";
    const stateDir = here(`${state}/projects/my-app`);
    const view = {
      name: "wsl",
      symlinks: false,
      projectPaths: () => {
        throw new Error("not used");
      },
      guestPath: (p: string) => windowsToWsl(p, "Ubuntu")!,
      hostView: here,
      sandboxOptions: () =>
        Promise.resolve({ bwrap: "/usr/bin/bwrap", uid: 1000, gid: 1000, system: [] }),
    };
    // deno-lint-ignore no-explicit-any
    const d: any = {
      projectDir,
      paths: { state: stateDir },
      rec: { layersDir: `${state}/projects/my-app/layers`, profiles: [] },
      view,
      stack: {
        runRoot: root,
        runImage: { ref: "registry.test/run:1", digest: "sha256:" + "a".repeat(64) },
        lifecycle: unc(`${state}/oci/rootfs/${"b".repeat(64)}/root/cnb/lifecycle`),
      },
    };
    // The record's roots are as this side sees them: map that view back for guestPath.
    view.guestPath = (p: string) =>
      p.startsWith(distro) ? p.slice(distro.length) : windowsToWsl(p, "Ubuntu")!;
    const step = devStep(d, "launcher", {
      argv: ["/cnb/lifecycle/launcher", "true"],
      env: { HOME: home, PATH: "/usr/bin" },
      cwd: "/mnt/c/Users/Ana Lopez/My App",
    });
    const s = await runImageStep({}, d, step, "exec", { processType: "web" });
    const argv = s.argv;
    assert.equal(argv[0], "/usr/bin/bwrap");
    const pair = (flag: string, dest: string) => {
      for (let i = 0; i < argv.length - 2; i++) {
        if (argv[i] === flag && argv[i + 2] === dest) return argv[i + 1];
      }
      return undefined;
    };
    const app = "/mnt/c/Users/Ana Lopez/My App";
    assert.equal(pair("--bind", app), app, argv.join(" "));
    assert.equal(
      pair("--ro-bind", "/cnb/lifecycle"),
      `${state}/oci/rootfs/${"b".repeat(64)}/root/cnb/lifecycle`,
    );
    assert.equal(pair("--ro-bind", "/usr"), `${rootG}/usr`);
    assert.equal(pair("--ro-bind", "/etc/passwd"), `${state}/projects/my-app/stack/passwd`);
    assert.equal(pair("--ro-bind", "/cnb/process"), `${state}/projects/my-app/stack/process`);
    assert.equal(pair("--bind", home), home);
    // The files were written through this side's view.
    assert.match(await Deno.readTextFile(`${stateDir}/stack/passwd`), /:1000:1000::\/home\/ana:/);
    assert.ok(
      argv.every((a) => !a.includes("\\") && !/^[A-Za-z]:/.test(a) && !a.startsWith(distro)),
      `a Windows or host-view path reached bwrap: ${argv.join(" ")}`,
    );
  } finally {
    await Deno.remove(distro, { recursive: true });
  }
});

Deno.test("guestMounts: Windows paths become the distribution's, Linux paths stay", async () => {
  const { guestMounts } = await import("../hosts/sandbox.ts");
  const { windowsToWsl } = await import("../hosts/wsl.ts");
  const g = (p: string) => windowsToWsl(p, "Ubuntu")!;
  assert.deepEqual(
    guestMounts([
      { path: "C:\\Users\\Ana Lopez\\app", writable: true },
      {
        path: "/cnb/lifecycle",
        source: "\\\\wsl.localhost\\Ubuntu\\home\\ana\\lc",
        writable: false,
      },
      { path: "/home/ana/.local/share/locald/projects/x/layers", writable: false },
    ], g),
    [
      { path: "/mnt/c/Users/Ana Lopez/app", writable: true },
      { path: "/cnb/lifecycle", source: "/home/ana/lc", writable: false },
      { path: "/home/ana/.local/share/locald/projects/x/layers", writable: false },
    ],
  );
});
