/**
 * An interactive `locald shell`: the user's own shell and startup files first (aliases,
 * functions, prompt), then locald's environment on top (as devbox and mise do), so a PATH line
 * in ~/.bashrc (nvm, pyenv) cannot shadow the project's tools; then `(locald:NAME)` before the
 * user's prompt, kept there by PROMPT_COMMAND (bash) or precmd (zsh) when a prompt program
 * (starship) rewrites the prompt before each command. bash gets an rc file that sources
 * ~/.bashrc first, zsh a ZDOTDIR whose files source the user's, fish init commands (run after
 * its config); other shells get the environment and PS1 from the start.
 */
import { basename, join } from "../util/path.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { shellQuote } from "../util/shell.ts";

export interface ShellLaunch {
  argv: string[];
  env: Record<string, string>;
  /**
   * How the environment reaches this shell after its startup files: shell code in that
   * language, passed in the variable `__LOCALD_ENV` ("sh", "fish"); absent: the shell starts
   * in the environment (through the launcher) and keeps what its startup files do to it.
   */
  reapply?: "sh" | "fish";
}

/** The variable the rc files read locald's environment from (then unset). */
export const REAPPLY_VAR = "__LOCALD_ENV";

/** fish's init command (`-C`, run after config.fish) that applies it. */
export const FISH_REAPPLY = `eval $${REAPPLY_VAR}; set -e ${REAPPLY_VAR}`;

export function marker(projectDir: string): string {
  return `(locald:${basename(projectDir)})`;
}

export async function interactiveShell(
  shell: string,
  projectDir: string,
  stateDir: string,
  env: Record<string, string>,
  reapply = true,
): Promise<ShellLaunch> {
  const mark = marker(projectDir);
  const dir = join(stateDir, "shell");
  const apply =
    `if [ -n "\${${REAPPLY_VAR}+x}" ]; then eval "$${REAPPLY_VAR}"; unset ${REAPPLY_VAR}; fi\n`;
  const prefixed = (v: string) =>
    `case "$${v}" in ${shellQuote(mark + " ")}*) ;; *) ${v}=${
      shellQuote(mark + " ")
    }"$${v}" ;; esac`;
  switch (basename(shell)) {
    case "bash": {
      const rc = join(dir, "bashrc");
      await writeFileAtomic(
        rc,
        `# Written by locald shell: your own bashrc, locald's environment, the prompt marker.\n` +
          `[ -f ~/.bashrc ] && . ~/.bashrc\n` +
          apply +
          `PS1="\${PS1-\\\\s-\\\\v\\\\$ }"\n` +
          `__locald_mark() { ${prefixed("PS1")}; }\n` +
          `__locald_mark\n` +
          // After a prompt program's own PROMPT_COMMAND (a list in bash 5.1+, else a string).
          `if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then\n` +
          `  PROMPT_COMMAND+=(__locald_mark)\n` +
          `else\n` +
          `  PROMPT_COMMAND="\${PROMPT_COMMAND:+$PROMPT_COMMAND$'\\n'}__locald_mark"\n` +
          `fi\n`,
      );
      return { argv: [shell, "--rcfile", rc, "-i"], env: {}, reapply: reapply ? "sh" : undefined };
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
        src(".zshrc") + apply +
          `PROMPT="\${PROMPT:-%m%# }"\n` +
          `__locald_mark() { ${prefixed("PROMPT")}; }\n` +
          `__locald_mark\nprecmd_functions+=(__locald_mark)\n` +
          `ZDOTDIR=${shellQuote(user)}\n`,
      );
      await writeFileAtomic(join(zdot, ".zlogin"), src(".zlogin"));
      return { argv: [shell, "-i"], env: { ZDOTDIR: zdot }, reapply: reapply ? "sh" : undefined };
    }
    case "fish":
      return {
        argv: [
          shell,
          "-i",
          // Init commands run after config.fish: the environment, then the prompt wrapper.
          ...(reapply ? ["-C", FISH_REAPPLY] : []),
          "-C",
          `functions -c fish_prompt __locald_prompt; function fish_prompt; printf '%s ' ${
            shellQuote(mark)
          }; __locald_prompt; end`,
        ],
        env: {},
        reapply: reapply ? "fish" : undefined,
      };
    default:
      return { argv: [shell, "-i"], env: { PS1: `${mark} ${env.PS1 ?? "$ "}` } };
  }
}
