/**
 * The rendered Lima template is accepted by the real `limactl validate` (Lima v2.2.0 built
 * from its Go module), for both architectures and with awkward mount paths.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type LimaArch, renderLimaYaml, VM_DEFAULTS } from "../templates/lima.ts";
import { GUEST_STATE_DIR } from "../src/hosts/lima.ts";
import { vmConfig } from "../src/hosts/vm.ts";

const CACHE = Deno.env.get("LOCALD_TEST_CACHE") ?? "/var/cache/locald-test";
const LIMA_VERSION = "v2.2.0";

/** limactl from the test cache; built from the Go module when missing. */
async function limactl(): Promise<string> {
  const bin = join(CACHE, "bin", "limactl");
  try {
    await Deno.stat(bin);
    return bin;
  } catch { /* build it */ }
  const dl = await new Deno.Command("go", {
    args: ["mod", "download", "-json", `github.com/lima-vm/lima/v2@${LIMA_VERSION}`],
    env: { GOFLAGS: "-mod=mod" },
  }).output();
  assert.equal(dl.code, 0, new TextDecoder().decode(dl.stderr));
  const dir = JSON.parse(new TextDecoder().decode(dl.stdout)).Dir;
  await Deno.mkdir(join(CACHE, "bin"), { recursive: true });
  const b = await new Deno.Command("go", {
    args: ["build", "-o", bin, "./cmd/limactl"],
    cwd: dir,
    env: { GOFLAGS: "-mod=mod" },
  }).output();
  assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
  return bin;
}

/** limactl refuses to run as root; as root, run it as uid 1000 in a user namespace. */
async function validate(file: string, home: string) {
  const bin = await limactl();
  const argv = [bin, "--tty=false", "validate", file];
  const full = Deno.uid() === 0
    ? ["unshare", "--user", "--map-user=1000", "--map-group=1000", ...argv]
    : argv;
  const r = await new Deno.Command(full[0], {
    args: full.slice(1),
    env: { HOME: home, LIMA_HOME: join(home, "lima"), PATH: Deno.env.get("PATH") ?? "" },
    clearEnv: true,
  }).output();
  return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
}

for (const arch of ["aarch64", "x86_64"] as LimaArch[]) {
  Deno.test(`limactl validate accepts the ${arch} VM template`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "locald-lima-" });
    await Deno.chmod(dir, 0o777);
    try {
      const yaml = renderLimaYaml({
        arch,
        ...VM_DEFAULTS,
        mounts: ["/Users/ann/my projects/it's $HOME", "/Users/ann/code"],
        stateDir: GUEST_STATE_DIR,
      });
      assert.match(yaml, /vmType: vz/);
      assert.match(yaml, new RegExp(`^arch: ${arch}$`, "m"));
      assert.match(yaml, /digest: "sha256:[0-9a-f]{64}"/);
      assert.match(yaml, /minimumLimaVersion: "2.2.0"/);
      const file = join(dir, "locald.yaml");
      await Deno.writeTextFile(file, yaml);
      const r = await validate(file, dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /OK/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("limactl validate rejects a broken template (the check is real)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "locald-lima-" });
  await Deno.chmod(dir, 0o777);
  try {
    const yaml = renderLimaYaml({
      arch: "aarch64",
      ...VM_DEFAULTS,
      mounts: ["/Users/ann"],
      stateDir: GUEST_STATE_DIR,
    }).replace("vmType: vz", "vmType: nonsense");
    const file = join(dir, "locald.yaml");
    await Deno.writeTextFile(file, yaml);
    const r = await validate(file, dir);
    assert.notEqual(r.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("VM settings come from LOCALD_VM_* and default to the home directory mount", () => {
  const c = vmConfig({ HOME: "/Users/ann", LOCALD_VM_CPUS: "2", LOCALD_VM_MEMORY: "8GiB" }, {
    disk: "100GiB",
  }, "aarch64");
  assert.deepEqual(c, {
    arch: "aarch64",
    cpus: 2,
    memory: "8GiB",
    disk: "100GiB",
    mounts: ["/Users/ann"],
    stateDir: GUEST_STATE_DIR,
  });
  assert.throws(
    () => renderLimaYaml({ ...c, memory: "lots" }),
    /memory must be a size/,
  );
});

Deno.test("the provision script installs bubblewrap and an AppArmor profile for bwrap, idempotently, and tolerates a guest without AppArmor", async () => {
  const yaml = renderLimaYaml({
    ...VM_DEFAULTS,
    arch: "x86_64",
    mounts: ["/Users/ann"],
    stateDir: GUEST_STATE_DIR,
  });
  const script = yaml.slice(yaml.indexOf("      #!/bin/sh")).split("\n").map((l) => l.slice(6))
    .join("\n");
  assert.match(script, /for pkg in ca-certificates tar gzip bubblewrap; do/);
  // The AppArmor part, run here with its two system paths moved into a temporary directory
  // and a recording apparmor_parser: what cannot be shown here is that Ubuntu's AppArmor
  // accepts the profile (this machine has no AppArmor 4).
  const part = script.slice(script.indexOf("profile=/etc/apparmor.d/locald-bwrap"));
  const dir = await Deno.makeTempDir({ prefix: "locald-provision-" });
  try {
    const etc = join(dir, "apparmor.d");
    const loaded = join(dir, "profiles");
    const bin = join(dir, "bin");
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      join(bin, "apparmor_parser"),
      `#!/bin/sh\necho "$*" >> ${dir}/parser-calls\n[ ! -e ${dir}/parser-fails ]\n`,
      { mode: 0o755 },
    );
    const run = async () => {
      const sh = part.replaceAll("/etc/apparmor.d", etc).replaceAll(
        "/sys/kernel/security/apparmor/profiles",
        loaded,
      );
      const r = await new Deno.Command("sh", {
        args: ["-eu", "-c", sh],
        env: { PATH: `${bin}:/usr/bin:/bin` },
        stderr: "piped",
      }).output();
      return { code: r.code, stderr: new TextDecoder().decode(r.stderr) };
    };
    const calls = async () =>
      (await Deno.readTextFile(join(dir, "parser-calls")).catch(() => "")).split("\n")
        .filter(Boolean);
    // No AppArmor in the guest: nothing happens, and the script goes on.
    assert.deepEqual(await run(), { code: 0, stderr: "" });
    assert.deepEqual(await calls(), []);
    // First boot: the profile is written and loaded.
    await Deno.mkdir(etc);
    assert.equal((await run()).code, 0);
    const profile = join(etc, "locald-bwrap");
    assert.equal(
      await Deno.readTextFile(profile),
      "abi <abi/4.0>,\ninclude <tunables/global>\n" +
        "profile locald-bwrap /usr/bin/bwrap flags=(unconfined) {\n  userns,\n}\n",
    );
    assert.deepEqual(await calls(), [`-r ${profile}`]);
    // Next boot with the profile loaded: nothing to do.
    await Deno.writeTextFile(loaded, "locald-bwrap (unconfined)\nlsb_release (enforce)\n");
    assert.equal((await run()).code, 0);
    assert.deepEqual(await calls(), [`-r ${profile}`]);
    // Not loaded (or changed): loaded again; a parser that fails warns and does not stop boot.
    await Deno.writeTextFile(loaded, "");
    await Deno.writeTextFile(join(dir, "parser-fails"), "");
    const r = await run();
    assert.equal(r.code, 0);
    assert.match(r.stderr, /locald: could not load .*locald-bwrap; sandboxed builds may fail/);
    assert.equal((await calls()).length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
