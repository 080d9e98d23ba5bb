import assert from "node:assert/strict";
import { checkSandbox, diagnose, type DiagnoseInput, installCommand } from "./sandbox_check.ts";
import { findOnPath } from "../util/fs.ts";

const input = (i: Partial<DiagnoseInput> = {}): DiagnoseInput => ({
  found: true,
  bwrap: "/usr/bin/bwrap",
  uid: 1000,
  trial: { code: 1, stderr: "bwrap: setting up uid map: Permission denied\n" },
  userns: {},
  distro: ["ubuntu", "debian"],
  inContainer: false,
  ...i,
});

Deno.test("diagnose: a working trial is available", () => {
  assert.equal(diagnose(input({ trial: { code: 0, stderr: "" } })).available, true);
});

Deno.test("diagnose: bwrap missing gives the distribution's install command", () => {
  const d = diagnose(input({ found: false }));
  assert.equal(d.available, false);
  assert.equal(d.fix, "sudo apt-get install bubblewrap");
  assert.equal(installCommand(["fedora"], 0), "dnf install bubblewrap");
  assert.equal(installCommand(["arch"], 1000), "sudo pacman -S bubblewrap");
  assert.match(installCommand([], 1000), /package manager/);
});

Deno.test("diagnose: Ubuntu's AppArmor restriction gets a bwrap-only profile and the sysctl", () => {
  const d = diagnose(input({ userns: { apparmorRestrict: 1, maxUserNamespaces: 100 } }));
  assert.match(d.reason!, /AppArmor blocks unprivileged user namespaces/);
  assert.match(
    d.fix!,
    /profile locald-bwrap \/usr\/bin\/bwrap flags=\(unconfined\) \{\\n {2}userns,/,
  );
  assert.match(d.fix!, /sudo apparmor_parser -r \/etc\/apparmor\.d\/locald-bwrap$/);
  assert.ok(d.details.some((l) => l.includes("kernel.apparmor_restrict_unprivileged_userns=0")));
  assert.ok(d.details.some((l) => l.includes("setting up uid map: Permission denied")));
  // Root is not subject to it: another cause is looked for.
  assert.doesNotMatch(
    diagnose(input({ uid: 0, userns: { apparmorRestrict: 1 } })).reason!,
    /AppArmor/,
  );
});

Deno.test("diagnose: switched-off user namespaces, old Debian's switch, containers", () => {
  assert.equal(
    diagnose(input({ userns: { maxUserNamespaces: 0 } })).fix,
    "sudo sysctl -w user.max_user_namespaces=15000",
  );
  assert.equal(
    diagnose(input({ userns: { unprivilegedClone: 0 } })).fix,
    "sudo sysctl -w kernel.unprivileged_userns_clone=1",
  );
  const c = diagnose(
    input({ inContainer: true, trial: { code: 1, stderr: "bwrap: No permissions\n" } }),
  );
  assert.match(c.reason!, /inside this container: No permissions/);
  assert.match(c.fix!, /seccomp=unconfined/);
  assert.match(diagnose(input()).reason!, /cannot create a sandbox here: setting up uid map/);
});

Deno.test({
  name: "a good trial sandbox is remembered while bwrap is the same; a failed one is not",
  ignore: Deno.build.os !== "linux" || !findOnPath("bwrap", Deno.env.get("PATH") ?? ""),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "locald-trial-" });
    try {
      // bwrap on PATH is a script that notes each start and runs the real one.
      const real = findOnPath("bwrap", Deno.env.get("PATH") ?? "")!;
      const log = `${dir}/starts`;
      const bwrap = `${dir}/bin/bwrap`;
      await Deno.mkdir(`${dir}/bin`);
      const wrapper = (body: string) =>
        Deno.writeTextFile(bwrap, `#!/bin/sh\necho start >> '${log}'\n${body}\n`, { mode: 0o755 });
      const starts = async () =>
        (await Deno.readTextFile(log).catch(() => "")).split("\n").filter(Boolean).length;
      const env = { PATH: `${dir}/bin:/usr/bin:/bin` };
      const remember = `${dir}/probes/bwrap-trial.json`;
      await wrapper(`exec '${real}' "$@"`);

      const first = await checkSandbox(env, { remember });
      assert.equal(first.available, true, first.reason);
      assert.equal(first.bwrap, bwrap);
      assert.equal(await starts(), 1);
      assert.match(await Deno.readTextFile(remember), /"boot":/);
      const again = await checkSandbox(env, { remember });
      assert.equal(again.available, true);
      assert.equal(again.bwrap, bwrap);
      assert.equal(await starts(), 1, "a remembered trial is not run again");
      // Without `remember` (doctor) it always runs.
      assert.equal((await checkSandbox(env)).available, true);
      assert.equal(await starts(), 2);

      // Another bwrap (here: one that cannot sandbox) is tried again, and its failure stays.
      await wrapper("echo 'bwrap: setting up uid map: Permission denied' >&2; exit 1");
      const broken = await checkSandbox(env, { remember });
      assert.equal(broken.available, false);
      assert.equal(await starts(), 3);
      assert.equal((await checkSandbox(env, { remember })).available, false);
      assert.equal(await starts(), 4, "a failed trial is not remembered");

      // A damaged file is only a miss.
      await wrapper(`exec '${real}' "$@"`);
      await Deno.writeTextFile(remember, "{");
      assert.equal((await checkSandbox(env, { remember })).available, true);
      assert.equal(await starts(), 5);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
