import assert from "node:assert/strict";
import { diagnose, type DiagnoseInput, installCommand } from "./sandbox_check.ts";

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
