import assert from "node:assert/strict";
import { recall, remember, stepInputs } from "./stack_dev.ts";
import { runImageStep } from "./stack.ts";
import { devStep } from "./launch.ts";
import type { DevEnv } from "./dev_env.ts";
import type { Step } from "../hosts/types.ts";
import { findOnPath } from "../util/fs.ts";

/**
 * A run image root without an entry for the user (passwd gets written), a project, layers and
 * a home; the view is the native one, with bwrap looked up on the step's PATH as natively.
 */
async function fixture() {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "locald-memo-" }));
  const root = `${tmp}/oci/rootfs/${"a".repeat(64)}/root`;
  for (const d of ["usr/bin", "etc", "home", "srv", "var/tmp", "opt/tool"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.symlink("usr/bin", `${root}/bin`);
  // No entry for the user running the test (root too): runImageStep writes passwd and group.
  const other = (Deno.uid() ?? 0) + 1;
  await Deno.writeTextFile(`${root}/etc/passwd`, `other:x:${other}:${other}::/:/bin/sh\n`);
  await Deno.writeTextFile(`${root}/etc/group`, `other:x:${other}:\n`);
  for (const d of ["Ana Lopez/My App", "home/ana", "layers", "state", "bin", "other-bin"]) {
    await Deno.mkdir(`${tmp}/${d}`, { recursive: true });
  }
  for (const b of ["bin", "other-bin"]) {
    await Deno.writeTextFile(`${tmp}/${b}/bwrap`, "#!/bin/sh\n");
    await Deno.chmod(`${tmp}/${b}/bwrap`, 0o755);
  }
  let path = `${tmp}/bin:/usr/bin`;
  const d: DevEnv = {
    projectDir: `${tmp}/Ana Lopez/My App`,
    // deno-lint-ignore no-explicit-any
    paths: { state: `${tmp}/state` } as any,
    // deno-lint-ignore no-explicit-any
    rec: { layersDir: `${tmp}/layers`, profiles: [] } as any,
    view: {
      name: "native",
      symlinks: true,
      projectPaths: () => {
        throw new Error("not used");
      },
      guestPath: (p) => p,
      sandboxOptions: () =>
        Promise.resolve({
          bwrap: findOnPath("bwrap", path)!,
          uid: Deno.uid()!,
          gid: Deno.gid()!,
          system: [],
        }),
    },
    stack: {
      runRoot: root,
      runImage: { ref: "registry.test/run:1", digest: "sha256:" + "a".repeat(64) },
      lifecycle: `${tmp}/lifecycle`,
    },
  };
  await Deno.mkdir(d.stack!.lifecycle);
  const step = (o: { cwd?: string; env?: Record<string, string>; argv?: string[] } = {}) => {
    const env = o.env ?? { HOME: `${tmp}/home/ana`, PATH: path, USER: "ana" };
    return devStep(d, "launcher", {
      argv: o.argv ?? ["/cnb/lifecycle/launcher", "--", "true"],
      env,
      cwd: o.cwd ?? d.projectDir,
    });
  };
  return { tmp, d, step, setPath: (p: string) => (path = p) };
}

Deno.test("stack step memo: a remembered line is the line runImageStep makes for the same inputs, and any input that changes it misses", async () => {
  const { tmp, d, step, setPath } = await fixture();
  try {
    type Extra = { processType?: string; mounts?: Step["mounts"] };
    let hits = 0;
    /** Makes the step afresh, checks what the memo says against it, then remembers it. */
    const turn = async (s: Step, extra: Extra = {}, command = "exec") => {
      const made = await runImageStep({}, d, s, command, extra);
      const inputs = stepInputs(d, s, extra);
      const known = recall(d, command, s, inputs);
      if (known) {
        hits++;
        assert.deepEqual(known.argv, made.argv);
        assert.deepEqual(known.env, made.env);
        assert.equal(known.cwd, made.cwd);
      }
      await remember(d, command, s, made, inputs);
      return { known, made };
    };
    const first = await turn(step());
    assert.equal(first.known, undefined, "nothing remembered yet");
    // An empty image directory is an empty directory of the new root, not a bind; the
    // terminal's devices are the host's.
    const args = first.made.argv;
    const at = (flag: string, dest: string) =>
      args.some((a, i) => a === flag && args[i + 1] === dest) ||
      args.some((a, i) => a === flag && args[i + 2] === dest);
    assert.ok(at("--dir", "/srv"), args.join(" "));
    assert.ok(at("--ro-bind", "/opt"), args.join(" "));
    assert.ok(at("--dev-bind", "/dev"), args.join(" "));
    assert.ok(!args.includes("--dev"));

    // The same inputs, another command line after `--`: remembered, that command appended.
    const again = await turn(step({ argv: ["/cnb/lifecycle/launcher", "--", "env", "-0"] }));
    assert.ok(again.known, "the same inputs are remembered");
    assert.deepEqual(again.known.argv.slice(-3), ["--", "env", "-0"]);

    // Each of these changes the line or what it binds: none may be answered from before.
    const home2 = `${tmp}/Ana Lopez`;
    const changes: [string, () => Promise<Step> | Step, Extra?][] = [
      ["another working directory", () => step({ cwd: `${tmp}/Ana Lopez` })],
      ["another HOME", () => step({ env: { HOME: home2, PATH: `${tmp}/bin`, USER: "ana" } })],
      ["no HOME", () => step({ env: { PATH: `${tmp}/bin`, USER: "ana" } })],
      [
        "a HOME that does not exist",
        () => step({ env: { HOME: `${tmp}/gone`, PATH: `${tmp}/bin`, USER: "ana" } }),
      ],
      ["an ssh agent socket outside HOME and /tmp", () =>
        step({
          env: { HOME: home2, PATH: `${tmp}/bin`, SSH_AUTH_SOCK: `${tmp}/state`, USER: "ana" },
        })],
      ["another user name", () => step({ env: { HOME: home2, PATH: `${tmp}/bin`, USER: "bo" } })],
      [
        "another shell",
        () => step({ env: { HOME: home2, PATH: `${tmp}/bin`, USER: "bo", SHELL: "/bin/zsh" } }),
      ],
      ["a process type", () => step(), { processType: "web" }],
      ["another process type", () => step(), { processType: "worker" }],
      ["a file mount", async () => {
        await Deno.writeTextFile(`${tmp}/state/rc`, "x");
        return step();
      }, { mounts: [{ path: `${tmp}/state/rc`, writable: false }] }],
      ["the same mount now a directory", async () => {
        await Deno.remove(`${tmp}/state/rc`);
        await Deno.mkdir(`${tmp}/state/rc`);
        return step();
      }, { mounts: [{ path: `${tmp}/state/rc`, writable: false }] }],
      ["bwrap found elsewhere on PATH", () => {
        setPath(`${tmp}/other-bin:/usr/bin`);
        return step();
      }],
      ["a terminal", () => ({ ...step(), interactive: !step().interactive })],
    ];
    for (const [what, make, extra] of changes) {
      const s = await make();
      const { known } = await turn(s, extra ?? {});
      assert.equal(known, undefined, `${what}: answered from the memo`);
      // ... and the changed inputs are remembered in turn.
      const { known: now } = await turn(s, extra ?? {});
      assert.ok(now, `${what}: not remembered`);
    }
    // Commands keep their own lines: `env` does not push `exec`'s out.
    const s = step();
    await turn(s);
    await turn(s, { mounts: [{ path: d.paths.state, writable: true }] }, "env");
    assert.ok(recall(d, "exec", s, stepInputs(d, s, {})));
    // Another command's line rewrites the passwd and group both bind (another HOME): `exec`'s
    // line, made for the old ones, is not used with the new.
    const passwd = `${tmp}/state/stack/passwd`;
    const before = await Deno.readTextFile(passwd);
    const elsewhere = step({ env: { HOME: home2, PATH: `${tmp}/other-bin`, USER: "ana" } });
    await turn(elsewhere, {}, "run");
    assert.notEqual(await Deno.readTextFile(passwd), before, "the passwd was not rewritten");
    assert.equal(recall(d, "exec", s, stepInputs(d, s, {})), undefined);
    await turn(s);
    assert.ok(recall(d, "exec", s, stepInputs(d, s, {})));
    // A remembered bwrap that is gone is looked up again.
    await Deno.remove(`${tmp}/other-bin/bwrap`);
    assert.equal(recall(d, "exec", s, stepInputs(d, s, {})), undefined);
    assert.ok(hits >= changes.length + 1);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
