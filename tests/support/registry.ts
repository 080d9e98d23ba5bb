/**
 * A real registry for tests: Debian's `docker-registry` (the CNCF distribution registry) on
 * 127.0.0.1 with a temporary storage directory, plain or with htpasswd basic auth. Started and
 * stopped by the test that uses it.
 */
import { join } from "node:path";

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  storage: string;
  user?: string;
  password?: string;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export async function startRegistry(
  opts: { auth?: { user: string; password: string } } = {},
): Promise<TestRegistry> {
  const dir = await Deno.makeTempDir({ prefix: "locald-registry-" });
  const storage = join(dir, "storage");
  await Deno.mkdir(storage);
  const port = freePort();
  let authYaml = "";
  if (opts.auth) {
    const htpasswd = join(dir, "htpasswd");
    const res = await new Deno.Command("htpasswd", {
      args: ["-Bbc", htpasswd, opts.auth.user, opts.auth.password],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!res.success) throw new Error(`htpasswd failed: ${new TextDecoder().decode(res.stderr)}`);
    authYaml = `auth:\n  htpasswd:\n    realm: locald-test\n    path: ${htpasswd}\n`;
  }
  const config = join(dir, "config.yml");
  await Deno.writeTextFile(
    config,
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
${authYaml}`,
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", config],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeTo(new WritableStream());
  const host = `127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await stderr.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      await r.body?.cancel();
      if (r.status === 200 || r.status === 401) {
        return { host, storage, user: opts.auth?.user, password: opts.auth?.password, stop };
      }
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error("docker-registry did not start");
}

/** Path of a blob's data file in the registry's filesystem storage (to corrupt it on purpose). */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return join(reg.storage, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
}
