/**
 * The prompt marker of an interactive `locald shell`: `(locald:NAME)` before the user's own
 * prompt, added after the user's startup files have run (so their prompt is kept, not
 * replaced). bash gets an rc file that sources ~/.bashrc first, zsh a ZDOTDIR whose files
 * source the user's, fish an init command that wraps fish_prompt; other shells get PS1.
 */
import { basename, join } from "../util/path.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { shellQuote } from "../util/shell.ts";

export interface ShellLaunch {
  argv: string[];
  env: Record<string, string>;
}

export function marker(projectDir: string): string {
  return `(locald:${basename(projectDir)})`;
}

export async function interactiveShell(
  shell: string,
  projectDir: string,
  stateDir: string,
  env: Record<string, string>,
): Promise<ShellLaunch> {
  const mark = marker(projectDir);
  const dir = join(stateDir, "shell");
  switch (basename(shell)) {
    case "bash": {
      const rc = join(dir, "bashrc");
      await writeFileAtomic(
        rc,
        `# Written by locald shell: your own bashrc, then the locald prompt marker.\n` +
          `[ -f ~/.bashrc ] && . ~/.bashrc\n` +
          `PS1=${shellQuote(mark + " ")}"\${PS1-\\\\s-\\\\v\\\\$ }"\n`,
      );
      return { argv: [shell, "--rcfile", rc, "-i"], env: {} };
    }
    case "zsh": {
      const zdot = join(dir, "zsh");
      const user = env.ZDOTDIR || env.HOME || "";
      const src = (f: string) =>
        `[ -f ${shellQuote(join(user, f))} ] && ZDOTDIR=${shellQuote(user)} . ${
          shellQuote(join(user, f))
        }\n`;
      await writeFileAtomic(join(zdot, ".zshenv"), src(".zshenv"));
      await writeFileAtomic(join(zdot, ".zprofile"), src(".zprofile"));
      await writeFileAtomic(
        join(zdot, ".zshrc"),
        src(".zshrc") +
          `PROMPT=${shellQuote(mark + " ")}"\${PROMPT:-%m%# }"\nZDOTDIR=${shellQuote(user)}\n`,
      );
      await writeFileAtomic(join(zdot, ".zlogin"), src(".zlogin"));
      return { argv: [shell, "-i"], env: { ZDOTDIR: zdot } };
    }
    case "fish":
      return {
        argv: [
          shell,
          "-i",
          "-C",
          `functions -c fish_prompt __locald_prompt; function fish_prompt; printf '%s ' ${
            shellQuote(mark)
          }; __locald_prompt; end`,
        ],
        env: {},
      };
    default:
      return { argv: [shell, "-i"], env: { PS1: `${mark} ${env.PS1 ?? "$ "}` } };
  }
}
