/**
 * Dev commands of a real stack build (issue 16, points 3, 5 and 6) on the Debian trixie test
 * images (tests/support/stack_images.ts): the fixture buildpack installs the build image's
 * lua5.4, which needs liblua5.4-0 (only the run image has it) and trixie's glibc (newer than
 * this Debian 12 host's). `locald build --stack` builds it in the builder's image; exec, run,
 * shell and env then run it in the run image. As root, as uid 1000 and through the Lima
 * stand-in. Host mode: the same layers on this host's userland fail to load, which locald says
 * in one line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runLocald, spawnLocald, testEnv } from "./support/locald.ts";
import { startRegistry } from "./support/registry.ts";
import { copyApp } from "./support/fixture.ts";
import { asUser, sh, UID } from "./support/unprivileged.ts";
import { guestArgv, limaSession } from "./support/lima_session.ts";
import { pushStackImages, STACK_APP, STACK_LIBRARY } from "./support/stack_images.ts";
import { recordPath } from "./support/stack_record.ts";

const sanitize = { sanitizeResources: false, sanitizeOps: false };

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** GETs `url` until it answers (the server starts in the background). */
async function fetchWhenUp(url: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      return await r.text();
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} never answered`);
}

const HOST_OS = await Deno.readTextFile("/etc/os-release");

Deno.test({
  name: "stack build's dev commands on the trixie images: exec, run, shell, env, devcontainer " +
    "in the run image; the same layers in host mode are one line suggesting --stack",
  ...sanitize,
  fn: async (t) => {
    const reg = await startRegistry();
    const env = await testEnv();
    try {
      const { builder, runImage } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, env.root, "My App");
      const locald = (args: string[], o: { stdin?: string; extra?: Record<string, string> } = {}) =>
        runLocald([args[0], "-C", app, ...args.slice(1)], {
          env: { ...env.env, ...o.extra },
          stdin: o.stdin,
        });
      const b = await locald(["build", "-B", builder, "--stack"]);
      assert.equal(b.code, 0, b.stderr);

      await t.step("exec runs the stack's program and sees the run image's system", async () => {
        const lua = await locald(["exec", "--", "lua5.4", "-v"]);
        assert.equal(lua.code, 0, lua.stderr);
        assert.match(lua.stdout, /^Lua 5\.4/);
        const hello = await locald(["exec", "--", "stack-hello"]);
        assert.equal(hello.code, 0, hello.stderr);
        assert.match(hello.stdout, /hello from the stack/);
        const os = await locald(["exec", "--", "cat", "/etc/os-release"]);
        assert.match(os.stdout, /VERSION_CODENAME=trixie/);
        assert.notEqual(os.stdout, HOST_OS);
        assert.match(HOST_OS, /bookworm/);
        // The library only the run image has.
        const lib = await locald(["exec", "--", "sh", "-c", `ls /usr/lib/*/${STACK_LIBRARY}`]);
        assert.equal(lib.code, 0, lib.stderr);
      });

      await t.step("HOME, stdin and exit codes pass through", async () => {
        await Deno.writeTextFile(join(env.home, ".gitconfig"), "[user]\n\tname = Ann\n");
        const r = await locald([
          "exec",
          "--",
          "sh",
          "-c",
          'cat "$HOME/.gitconfig"; read x; echo "got:$x"; exit 5',
        ], { stdin: "hi\n" });
        assert.equal(r.code, 5, r.stderr);
        assert.equal(r.stdout, "[user]\n\tname = Ann\ngot:hi\n");
      });

      await t.step("run web serves from the run image on a port the host reaches", async () => {
        const port = freePort();
        const server = spawnLocald(["run", "-C", app, "web"], {
          env: { ...env.env, PORT: String(port) },
        });
        try {
          assert.equal(await fetchWhenUp(`http://127.0.0.1:${port}/`), "stack app\n");
          const page = await fetchWhenUp(`http://127.0.0.1:${port}/cgi-bin/hello`);
          assert.match(page, /^os: Debian GNU\/Linux 13 \(trixie\)\n/);
          assert.match(page, /hello from the stack/);
        } finally {
          server.kill("SIGTERM");
          await server.output();
        }
      });

      await t.step("shell: bash when the image lacks the user's shell (said once)", async () => {
        const zsh = { SHELL: "/usr/bin/zsh" };
        const a = await locald(["shell", "-c", 'echo "$0"; lua5.4 -v'], { extra: zsh });
        assert.equal(a.code, 0, a.stderr);
        assert.match(a.stdout, /^\/bin\/bash\nLua 5\.4/);
        assert.match(
          a.stderr,
          new RegExp(`the run image \\(${runImage}\\) has no /usr/bin/zsh; using /bin/bash`),
        );
        const again = await locald(["shell", "-c", "true"], { extra: zsh });
        assert.doesNotMatch(again.stderr, /has no/);
      });

      await t.step("env is computed in the run image", async () => {
        await Deno.writeTextFile(
          join(app, ".profile"),
          'export IMAGE_VERSION="$(. /etc/os-release; echo "$VERSION_ID")"\n',
        );
        const r = await locald(["env", "--format", "json"]);
        assert.equal(r.code, 0, r.stderr);
        // deno-lint-ignore no-explicit-any
        const vars = r.json as any;
        assert.equal(vars.IMAGE_VERSION, "13");
        assert.match(vars.PATH, /\/lua\/bin:/);
        await Deno.remove(join(app, ".profile"));
      });

      await t.step(
        "host mode: the stack's program cannot load here: one line, --stack",
        async () => {
          // The same layers on this host's userland (a --host build would not get this far: its
          // buildpack needs the build image's m4): what a host build with binaries fetched for the
          // stack meets.
          const record = await recordPath(env.localdHome);
          const rec = JSON.parse(await Deno.readTextFile(record));
          const host = { ...rec, userland: "host", lifecycle: { ...rec.lifecycle } };
          delete host.stack;
          await Deno.writeTextFile(record, JSON.stringify(host));
          const r = await locald(["exec", "--", "lua5.4", "-v"]);
          assert.notEqual(r.code, 0);
          const lines = r.stderr.trim().split("\n");
          assert.match(
            lines.at(-2)!,
            /^locald: this host cannot run the programs the build installed \(the stack of .*run:trixie\): lua5\.4: it needs glibc 2\.\d+, this host has 2\.36$/,
          );
          assert.match(
            lines.at(-1)!,
            /^hint: build in the stack's images instead: `locald build --stack -C /,
          );
          await Deno.writeTextFile(record, JSON.stringify(rec));
        },
      );

      await t.step(
        "devcontainer of a stack image build: the environment from the run image",
        async () => {
          const e = await locald(["build", "-B", builder, "--stack", "--export"]);
          assert.equal(e.code, 0, e.stderr);
          await Deno.writeTextFile(
            join(app, ".profile"),
            'export IMAGE_VERSION="$(. /etc/os-release; echo "$VERSION_ID")"\n',
          );
          const d = await locald(["devcontainer"]);
          assert.equal(d.code, 0, d.stderr);
          const doc = JSON.parse(
            await Deno.readTextFile(join(app, ".devcontainer", "devcontainer.json")),
          );
          assert.equal(doc.remoteEnv.IMAGE_VERSION, "13");
          assert.equal(doc.image, runImage);
        },
      );
    } finally {
      await env.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "stack build's dev commands as uid 1000 on the trixie images",
  ignore: Deno.uid() !== 0,
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const u = await asUser();
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, u.root);
      await u.chownToUser();
      const b = await u.locald(["build", "-C", app, "-B", builder, "--stack"]);
      assert.equal(b.code, 0, b.stderr);
      const name = (await sh(["id", "-un", String(UID)])).stdout.trim();
      const r = await u.locald([
        "exec",
        "-C",
        app,
        "--",
        "sh",
        "-c",
        "id -u; id -un; stack-hello; grep VERSION_CODENAME /etc/os-release",
      ]);
      assert.equal(r.code, 0, r.stderr);
      // The image's own cnb user is uid 1000: its name is kept.
      const lines = r.stdout.split("\n");
      assert.equal(lines[0], String(UID));
      assert.ok(lines[1] === "cnb" || lines[1] === name, lines[1]);
      assert.match(r.stdout, /hello from the stack.*\nVERSION_CODENAME=trixie\n$/);
    } finally {
      await u.cleanup();
      await reg.stop();
    }
  },
});

Deno.test({
  name: "stack build's dev commands through the Lima stand-in on the trixie images",
  ...sanitize,
  fn: async () => {
    const reg = await startRegistry();
    const s = await limaSession();
    try {
      const { builder } = await pushStackImages(reg);
      const app = await copyApp(STACK_APP, s.root);
      const b = await s.run(["build", "-C", app, "-B", builder, "--stack"]);
      assert.equal(b.code, 0, b.stderr);
      const r = await s.run([
        "exec",
        "-C",
        app,
        "--",
        "sh",
        "-c",
        "stack-hello; cat /etc/os-release",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^hello from the stack.*\n[^]*VERSION_CODENAME=trixie/);
      const call = (await s.calls()).findLast((c) =>
        c.argv.some((a) => a.includes("stack-hello; cat /etc/os-release"))
      );
      assert.ok(call);
      assert.equal(guestArgv(call)[0], "/usr/bin/bwrap");
    } finally {
      await s.close();
      await reg.stop();
    }
  },
});
