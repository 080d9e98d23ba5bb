/** Run a process for a test: argv, optional environment (replacing ours), cwd and stdin. */
export interface ProcResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runProcess(
  argv: string[],
  opts: { env?: Record<string, string>; cwd?: string; stdin?: string } = {},
): Promise<ProcResult> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: opts.env,
    clearEnv: opts.env !== undefined,
    cwd: opts.cwd,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const r = await child.output();
  return {
    code: r.code,
    stdout: new TextDecoder().decode(r.stdout),
    stderr: new TextDecoder().decode(r.stderr),
  };
}
