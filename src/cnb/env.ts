/**
 * Build-time environment for the platform dir: project.toml's build env, then --env-file
 * files, then -e flags (later wins), the order pack uses. Pure.
 */
import { ExitCode, LocaldError } from "../errors.ts";
import { envValueProblem, isEnvName } from "../util/names.ts";

/** `-e K=V` sets K; `-e K` copies K from locald's own environment, as pack does. */
export function parseEnvFlag(flag: string, hostEnv: Record<string, string>): [string, string] {
  const eq = flag.indexOf("=");
  const name = eq === -1 ? flag : flag.slice(0, eq);
  if (!isEnvName(name)) {
    throw new LocaldError(`bad -e "${flag}": "${name}" is not a variable name`, {
      hint: "use -e NAME=VALUE (letters, digits and _; not starting with a digit)",
      exitCode: ExitCode.usage,
    });
  }
  if (eq !== -1) return [name, checkedValue(name, flag.slice(eq + 1), `-e ${name}`)];
  if (!(name in hostEnv)) {
    throw new LocaldError(`bad -e "${flag}": ${name} is not set in your environment`, {
      hint: `use -e ${name}=VALUE, or export ${name} first`,
      exitCode: ExitCode.usage,
    });
  }
  return [name, checkedValue(name, hostEnv[name], `-e ${name}`)];
}

function checkedValue(
  name: string,
  value: string,
  where: string,
  exitCode: number = ExitCode.usage,
) {
  const problem = envValueProblem(name, value);
  if (problem) {
    throw new LocaldError(`${where}: the value of ${name} ${problem}`, {
      hint: "pass a shorter value without NUL bytes (a large value belongs in a file the " +
        "buildpack reads)",
      exitCode,
    });
  }
  return value;
}

/** Lines of NAME=VALUE; blank lines and # comments ignored; `export ` prefix allowed. */
export function parseEnvFile(text: string, file: string): [string, string][] {
  const out: [string, string][] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const body = line.replace(/^export\s+/, "");
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    if (eq === -1 || !isEnvName(name)) {
      const got = JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}...` : line);
      throw new LocaldError(`${file}:${i + 1}:1: expected NAME=VALUE, got ${got}`, {
        hint: "each line of an env file is NAME=VALUE (or a # comment)",
        exitCode: ExitCode.input,
      });
    }
    let value = body.slice(eq + 1);
    const q = value[0];
    if ((q === '"' || q === "'") && value.length >= 2 && value.endsWith(q)) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    }
    out.push([name, checkedValue(name, value, `${file}:${i + 1}`, ExitCode.input)]);
  });
  return out;
}

export function mergeBuildEnv(
  layers: Iterable<[string, string]>[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const layer of layers) for (const [k, v] of layer) env[k] = v;
  return env;
}
