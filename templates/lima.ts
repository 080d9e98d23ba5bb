/**
 * The Lima instance template for locald's VM. A module (not a .yaml file) so that
 * `deno compile` embeds it. `renderLimaYaml` fills in the few values that vary; it is pure.
 *
 * Images: Ubuntu 24.04 (noble) server cloud images, the same release Lima v2.2.0 pins in its
 * templates/_images/ubuntu-24.04.yaml, with their sha256 digests. Lima picks the entry whose
 * arch matches the VM's. Ubuntu 24.04 is also what the common CNB builders target (noble), so
 * buildpacks that check the build host's distribution find what they expect.
 *
 * The provision script runs as root at every boot and must be idempotent: it installs only
 * what is missing (bubblewrap among it, for sandboxed and image builds, which run bwrap inside
 * the VM), creates locald's state directory on the VM's own disk, owned by the VM's user (Lima
 * expands {{.User}} in provision scripts), and installs an AppArmor profile that lets only
 * /usr/bin/bwrap create user namespaces (Ubuntu 24.04 restricts them), loading it when it
 * changed or is not loaded.
 */

export const LIMA_TEMPLATE = `# locald's VM. Written by locald; \`locald vm rm\` removes it.
minimumLimaVersion: "2.2.0"
vmType: vz
os: Linux
arch: @ARCH@
images:
  - location: "https://cloud-images.ubuntu.com/releases/noble/release-20260705/ubuntu-24.04-server-cloudimg-arm64.img"
    arch: aarch64
    digest: "sha256:7df0201546f75b8bcc1044594c806c35749421ad3c9bc1be2a3ab806cfae39cc"
  - location: "https://cloud-images.ubuntu.com/releases/noble/release-20260705/ubuntu-24.04-server-cloudimg-amd64.img"
    arch: x86_64
    digest: "sha256:ffe6203da54deeb6db5d2a98a83f9ec8e55f149d3f7ba622e1abe5fa966ee3d6"
cpus: @CPUS@
memory: @MEMORY@
disk: @DISK@
mountType: virtiofs
mounts:
@MOUNTS@
containerd:
  system: false
  user: false
ssh:
  loadDotSSHPubKeys: false
provision:
  - mode: system
    script: |
      #!/bin/sh
      # locald provision: runs at every boot, changes nothing when all is in place.
      set -eu
      missing=""
      for pkg in ca-certificates tar gzip bubblewrap; do
        dpkg-query -W -f='\${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
          missing="$missing $pkg"
      done
      if [ -n "$missing" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends $missing
      fi
      install -d -m 0755 @STATE_DIR@
      chown "{{.User}}:" @STATE_DIR@
      # \`locald build --sandbox\` and image builds run bwrap as the VM's user. Ubuntu 24.04's
      # AppArmor forbids unprivileged user namespaces except to profiled programs: this
      # profile allows them to bwrap only. Skipped on a guest without AppArmor.
      profile=/etc/apparmor.d/locald-bwrap
      want='abi <abi/4.0>,
      include <tunables/global>
      profile locald-bwrap /usr/bin/bwrap flags=(unconfined) {
        userns,
      }'
      if [ -d /etc/apparmor.d ] && command -v apparmor_parser >/dev/null 2>&1; then
        if [ "$(cat "$profile" 2>/dev/null)" != "$want" ]; then
          printf '%s\\n' "$want" > "$profile.tmp" && mv "$profile.tmp" "$profile"
          apparmor_parser -r "$profile" ||
            echo "locald: could not load $profile; sandboxed builds may fail" >&2
        elif ! grep -qs '^locald-bwrap ' /sys/kernel/security/apparmor/profiles; then
          apparmor_parser -r "$profile" ||
            echo "locald: could not load $profile; sandboxed builds may fail" >&2
        fi
      fi
`;

export type LimaArch = "aarch64" | "x86_64";

export interface LimaVmConfig {
  arch: LimaArch;
  cpus: number;
  /** Lima size strings, e.g. "4GiB". */
  memory: string;
  disk: string;
  /** Host directories mounted writable at the same path inside the VM. */
  mounts: string[];
  /** locald's state directory on the VM's disk. */
  stateDir: string;
}

export const VM_DEFAULTS = { cpus: 4, memory: "4GiB", disk: "60GiB" } as const;

const SIZE = /^[1-9][0-9]*(\.[0-9]+)?\s*(KiB|MiB|GiB|TiB|KB|MB|GB|TB|K|M|G|T)?$/;

/** Problems with a config, one line each (empty when fine). Pure. */
export function limaConfigProblems(c: LimaVmConfig): string[] {
  const p: string[] = [];
  if (c.arch !== "aarch64" && c.arch !== "x86_64") p.push(`arch must be aarch64 or x86_64`);
  if (!Number.isInteger(c.cpus) || c.cpus < 1) p.push(`cpus must be a whole number >= 1`);
  if (!SIZE.test(c.memory)) p.push(`memory must be a size like 4GiB (got "${c.memory}")`);
  if (!SIZE.test(c.disk)) p.push(`disk must be a size like 60GiB (got "${c.disk}")`);
  if (c.mounts.length === 0) p.push("at least one directory must be mounted");
  for (const m of c.mounts) {
    if (!m.startsWith("/")) p.push(`mount ${m} is not an absolute path`);
  }
  if (!/^\/[A-Za-z0-9/_.-]+$/.test(c.stateDir)) p.push(`state dir ${c.stateDir} is not plain`);
  return p;
}

/** JSON strings are valid YAML double-quoted scalars: exact for any path. */
const q = (s: string) => JSON.stringify(s);

export function renderLimaYaml(c: LimaVmConfig): string {
  const problems = limaConfigProblems(c);
  if (problems.length) throw new Error(`invalid VM config: ${problems.join("; ")}`);
  const mounts = c.mounts.map((m) => `  - location: ${q(m)}\n    writable: true`).join("\n");
  const values: Record<string, string> = {
    "@ARCH@": c.arch,
    "@CPUS@": String(c.cpus),
    "@MEMORY@": q(c.memory),
    "@DISK@": q(c.disk),
    "@MOUNTS@": mounts,
    "@STATE_DIR@": c.stateDir,
  };
  return LIMA_TEMPLATE.replace(/@[A-Z_]+@/g, (k) => values[k] ?? k);
}
