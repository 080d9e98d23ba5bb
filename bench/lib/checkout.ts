/** Another checkout (a bench's --before or --baseline) as results name it: its commit, where it is a git checkout. */
export async function checkoutName(dir: string): Promise<string> {
  const o = await new Deno.Command("git", { args: ["-C", dir, "rev-parse", "--short", "HEAD"] })
    .output().catch(() => undefined);
  const rev = o?.success ? new TextDecoder().decode(o.stdout).trim() : "";
  return rev ? `commit ${rev}` : dir;
}
