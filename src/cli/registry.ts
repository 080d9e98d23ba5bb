/**
 * The command table. Each entry carries its flags and help, and loads its implementation
 * lazily so `locald exec` does not pay for `locald build`'s imports.
 */
import type { FlagSpec } from "./args.ts";
import type { CommandSpec, CommandTable, SubcommandSpec } from "./context.ts";

/** The flags of all subcommands, each once, in order of first appearance. */
function flagsOf(subs: SubcommandSpec[]): FlagSpec[] {
  const seen = new Map<string, FlagSpec>();
  for (const s of subs) for (const f of s.flags) if (!seen.has(f.name)) seen.set(f.name, f);
  return [...seen.values()];
}

const json: FlagSpec = { name: "json", kind: "bool", help: "print a JSON result on stdout" };
const PULL_POLICIES = ["always", "if-not-present", "never"];
const NETWORKS = ["none", "default"];

export const BUILD_FLAGS: FlagSpec[] = [
  {
    name: "builder",
    short: "B",
    kind: "string",
    value: "REF",
    help: "builder image (default: project.toml's, else heroku/builder:24)",
  },
  { name: "run-image", kind: "string", value: "REF", help: "run image instead of the builder's" },
  {
    name: "pull-policy",
    kind: "string",
    value: "POLICY",
    help: "always, if-not-present (default) or never",
    choices: PULL_POLICIES,
  },
  {
    name: "insecure-registry",
    kind: "list",
    value: "HOST",
    help: "reach this registry over plain HTTP (repeatable)",
  },
  {
    name: "buildpack",
    short: "b",
    kind: "list",
    value: "PATH|REF",
    help: "buildpack to use instead of detection order (repeatable)",
  },
  { name: "env", short: "e", kind: "list", value: "K=V", help: "build-time variable (repeatable)" },
  { name: "env-file", kind: "list", value: "FILE", help: "file of K=V build-time variables" },
  { name: "clear-cache", kind: "bool", help: "drop cached layers before building" },
  { name: "force", kind: "bool", help: "build even if nothing changed since the last build" },
  {
    name: "save",
    kind: "bool",
    help: "write the builder and buildpacks (-B, -b, or the last build's) into project.toml",
  },
  { name: "platform-api", kind: "string", value: "X.Y", help: "pin the CNB platform API" },
  {
    name: "exec-env",
    kind: "string",
    value: "ENV",
    help: "execution environment to build for (default: development; images: production)",
  },
  {
    name: "default-process",
    short: "D",
    kind: "string",
    value: "TYPE",
    help: "the process type `locald run` and the image start by default",
  },
  { name: "export", kind: "bool", help: "also export an OCI image (layout directory)" },
  {
    name: "layout-dir",
    kind: "string",
    value: "DIR",
    help: "where --export writes the OCI image layout",
  },
  { name: "tag", short: "t", kind: "string", value: "NAME", help: "image name for --export" },
  { name: "publish", kind: "string", value: "REF", help: "export the image to a registry" },
  { name: "dry-run", kind: "bool", help: "print the plan (phases, argv, env) and stop" },
  {
    name: "sandbox",
    kind: "bool",
    help: "run every phase under bubblewrap, home hidden (=false: never; absent: trust rules)",
  },
  {
    name: "network",
    kind: "string",
    value: "none|default",
    help: "none: no network for the build (implies --sandbox); default: the host's",
    choices: NETWORKS,
  },
  {
    name: "trust-builder",
    kind: "bool",
    help: "trust the builder: its buildpacks run without the sandbox (unless --sandbox)",
  },
  {
    name: "stack",
    kind: "bool",
    help: "build inside the builder image's root filesystem (its userland), under bwrap",
  },
  {
    name: "host",
    kind: "bool",
    help: "build on this host's userland (its /usr and tools), not the builder image's",
  },
  json,
];

/** --sandbox and --network for the commands that run project code (shell, exec, run). */
export const DEV_SANDBOX_FLAGS: FlagSpec[] = [
  {
    name: "sandbox",
    kind: "bool",
    help: "run it under bubblewrap: home hidden, project writable, layers read-only",
  },
  {
    name: "network",
    kind: "string",
    value: "none|default",
    help: "none: no network (implies --sandbox)",
    choices: NETWORKS,
  },
];

const BUILDER_PULL_FLAGS: FlagSpec[] = [
  {
    name: "platform",
    kind: "string",
    value: "OS/ARCH",
    help: "platform to pick from a multi-arch builder (default: linux/<this CPU>)",
  },
  {
    name: "insecure-registry",
    kind: "list",
    value: "HOST",
    help: "talk plain HTTP to this registry (repeatable)",
  },
];

const policyFlag = (dflt: string): FlagSpec => ({
  name: "pull-policy",
  kind: "string",
  value: "POLICY",
  help: `always, if-not-present or never (default: ${dflt})`,
  choices: PULL_POLICIES,
});

export const BUILDER_SUBCOMMANDS: SubcommandSpec[] = [
  {
    name: "pull",
    summary: "download a builder (default: heroku/builder:24) and unpack its /cnb",
    usage: [
      "locald builder pull [REF] [--platform OS/ARCH] [--insecure-registry HOST]...",
      "                    [--pull-policy always|if-not-present|never] [--verify] [--json]",
    ],
    description: "Asks the registry again unless --pull-policy says otherwise; an unchanged\n" +
      "image is not downloaded twice. The extracted /cnb is extracted again when a file in\n" +
      "it was added, removed or renamed; --verify also compares every file (one edited in\n" +
      "place too) with what was extracted.",
    flags: [...BUILDER_PULL_FLAGS, policyFlag("always"), {
      name: "verify",
      kind: "bool",
      help: "compare every extracted file with the extraction, extract again if one changed",
    }, json],
    examples: ["locald builder pull", "locald builder pull paketobuildpacks/builder-jammy-base"],
  },
  {
    name: "inspect",
    summary: "show a builder's buildpacks, detection order, run image, lifecycle and APIs",
    usage: [
      "locald builder inspect [REF] [--platform OS/ARCH] [--insecure-registry HOST]...",
      "                       [--pull-policy always|if-not-present|never] [--json]",
    ],
    description: "Pulls the builder first if it is not here yet (works offline once pulled).",
    flags: [...BUILDER_PULL_FLAGS, policyFlag("if-not-present"), json],
    examples: ["locald builder inspect", "locald builder inspect heroku/builder:24 --json"],
  },
  {
    name: "ls",
    summary: "list the builders pulled so far",
    usage: ["locald builder ls [--json]"],
    flags: [json],
    examples: ["locald builder ls", "locald builder ls --json"],
  },
  {
    name: "rm",
    summary: "forget builders and the blobs only they used",
    usage: ["locald builder rm REF... [--json]"],
    flags: [json],
    examples: ["locald builder rm heroku/builder:24"],
  },
];

export const CACHE_SUBCOMMANDS: SubcommandSpec[] = [
  {
    name: "ls",
    summary: "show what each project's state, the builders and the tools take on disk",
    usage: ["locald cache ls [--json]"],
    flags: [json],
    examples: ["locald cache ls", "locald cache ls --json"],
  },
  {
    name: "prune",
    summary: "remove the state of projects that are gone and leftovers of interrupted work",
    usage: ["locald cache prune [--all] [--dry-run] [--json]"],
    description: "Removes the state of projects whose directory no longer exists and the\n" +
      "leftovers of interrupted downloads and installs; --all removes every project's state\n" +
      "(environments and caches; tools and builders stay: `locald builder rm` for those).",
    flags: [
      { name: "all", kind: "bool", help: "prune every project's state" },
      { name: "dry-run", kind: "bool", help: "say what would be removed" },
      json,
    ],
    examples: ["locald cache prune --dry-run", "locald cache prune --all"],
  },
];

const VM_SIZE_FLAGS: FlagSpec[] = [
  { name: "cpus", kind: "string", value: "N", help: "VM CPUs when created (default 4)" },
  { name: "memory", kind: "string", value: "SIZE", help: "VM memory when created (4GiB)" },
  { name: "disk", kind: "string", value: "SIZE", help: "VM disk when created (60GiB)" },
];

export const VM_SUBCOMMANDS: SubcommandSpec[] = [
  {
    name: "start",
    summary: "create (the first time) and start the VM",
    usage: ["locald vm start [--cpus N] [--memory SIZE] [--disk SIZE]"],
    description: "The sizes apply when the VM is created; `locald vm rm` first to change them.",
    flags: VM_SIZE_FLAGS,
    examples: ["locald vm start", "locald vm start --cpus 8 --memory 8GiB"],
  },
  {
    name: "stop",
    summary: "stop the VM (builds start it again)",
    usage: ["locald vm stop"],
    flags: [],
    examples: ["locald vm stop"],
  },
  {
    name: "status",
    summary: "say whether the VM exists and runs, and its size",
    usage: ["locald vm status [--json]"],
    flags: [json],
    examples: ["locald vm status", "locald vm status --json"],
  },
  {
    name: "shell",
    summary: "a shell inside the VM, in the project directory when the VM can see it",
    usage: ["locald vm shell [-C DIR] [--cpus N] [--memory SIZE] [--disk SIZE]"],
    flags: VM_SIZE_FLAGS,
    examples: ["locald vm shell", "locald vm shell -C ~/src/app"],
  },
  {
    name: "rm",
    summary: "delete the VM (Windows: locald's state in the distribution)",
    usage: ["locald vm rm"],
    flags: [],
    examples: ["locald vm rm"],
  },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: "build",
    summary: "build the project's development environment with Cloud Native Buildpacks",
    usage: [
      "locald build [-C DIR] [-B BUILDER] [-b BUILDPACK]... [-e K=V]... [--env-file F]...",
      "             [--clear-cache] [--force] [--save] [--platform-api X.Y] [--dry-run] [--json]",
      "             [--run-image REF] [--pull-policy always|if-not-present|never]",
      "             [--insecure-registry HOST]... [--sandbox[=false]] [--network none|default]",
      "             [--trust-builder] [--exec-env ENV] [-D|--default-process TYPE]",
      "             [--stack|--host] [--export [-t NAME] [--layout-dir DIR] | --publish REF]",
    ],
    description:
      "Runs the CNB lifecycle phases (analyze, detect, restore, build) natively on this host,\n" +
      "inside the builder image's root filesystem (--stack, the default with a builder where\n" +
      "bwrap works; `userland` in config.toml or project.toml [dev.locald]) or on the host's own\n" +
      "userland (--host).\n" +
      "The layers the buildpacks write become the environment of `locald shell`, `exec`, `run`\n" +
      "and `env`. Settings come from flags, then project.toml, then defaults.",
    flags: BUILD_FLAGS,
    examples: [
      "locald build",
      "locald build -B paketobuildpacks/builder-jammy-base",
      "locald build -b ./buildpacks/node -e NODE_ENV=development",
      "locald build --dry-run --json",
      "locald build -B heroku/builder:24 --export -t myapp --layout-dir ./image",
      "locald build -B heroku/builder:24 --publish registry.example.com/team/myapp:1",
      "locald build --sandbox --network none",
      "locald build -B ./builder.toml --exec-env test",
    ],
    load: () => import("./commands/build.ts"),
  },
  {
    name: "shell",
    summary: "open your $SHELL with the build's environment",
    usage: ["locald shell [-C DIR] [--sandbox] [--network none|default] [-c COMMAND]"],
    flags: [
      {
        name: "command",
        short: "c",
        kind: "string",
        value: "COMMAND",
        help: "run COMMAND in the shell and exit",
      },
      ...DEV_SANDBOX_FLAGS,
    ],
    examples: ["locald shell", "locald shell -c 'node -v'", "locald shell --sandbox"],
    load: () => import("./commands/shell.ts"),
  },
  {
    name: "exec",
    summary: "run one command in the build's environment (no shell)",
    usage: ["locald exec [-C DIR] [--sandbox] [--network none|default] -- CMD [ARGS...]"],
    flags: DEV_SANDBOX_FLAGS,
    stopAtPositional: true,
    examples: [
      "locald exec -- node -v",
      "locald exec -C app -- make test",
      "locald exec --sandbox --network none -- npm test",
    ],
    load: () => import("./commands/exec.ts"),
  },
  {
    name: "run",
    summary: "start a process type the buildpacks declared",
    usage: [
      "locald run [-C DIR] [--sandbox] [--network none|default] [PROCESS_TYPE] [-- ARGS...]",
    ],
    description:
      "Without PROCESS_TYPE, runs the default process (web if none is marked default).\n" +
      "ARGS replace the arguments the buildpack gave the process (CNB rule); its command stays.",
    flags: DEV_SANDBOX_FLAGS,
    stopAtPositional: true,
    examples: ["locald run", "locald run worker", "locald run web -- --port 3000"],
    load: () => import("./commands/run.ts"),
  },
  {
    name: "env",
    summary: "print the build's environment for direnv, editors and scripts",
    usage: ["locald env [-C DIR] [--format sh|fish|pwsh|json|dotenv|direnv]"],
    flags: [
      {
        name: "format",
        short: "f",
        kind: "string",
        value: "FORMAT",
        help: "sh (default), fish, pwsh, json, dotenv or direnv (for an .envrc)",
        choices: ["sh", "fish", "pwsh", "json", "dotenv", "direnv"],
      },
    ],
    examples: [
      'eval "$(locald env)"',
      "echo 'eval \"$(locald env --format direnv)\"' > .envrc && direnv allow",
      "locald env --format fish | source",
      "locald env --format json",
    ],
    load: () => import("./commands/env.ts"),
  },
  {
    name: "builder",
    summary: "pull, inspect, list and remove CNB builders (from OCI registries, no Docker)",
    usage: BUILDER_SUBCOMMANDS.flatMap((s) => s.usage),
    description:
      "REF is an image reference as Docker writes it (heroku/builder:24, ghcr.io/o/b@sha256:...);\n" +
      "without one, the default builder heroku/builder:24; a path ending in .toml is a local\n" +
      "builder.toml (as `pack builder create` reads it), laid out locally, never pushed.\n" +
      "Credentials come from\n" +
      "$DOCKER_CONFIG/config.json or ~/.docker/config.json (auths, credHelpers, credsStore).\n" +
      "Registries on 127.0.0.1/localhost are reached over plain HTTP.",
    flags: flagsOf(BUILDER_SUBCOMMANDS),
    subcommands: BUILDER_SUBCOMMANDS,
    examples: [
      "locald builder pull heroku/builder:24",
      "locald builder inspect heroku/builder:24",
      "locald builder ls",
      "locald builder rm heroku/builder:24",
    ],
    load: () => import("./commands/builder.ts"),
  },
  {
    name: "devcontainer",
    summary: "write .devcontainer/ that reuses the image build's layers",
    usage: ["locald devcontainer [-C DIR] [--force] [--json]"],
    description:
      "The container starts from the build's run image, with the image build's layers at\n" +
      "/layers, the project at /workspace and the launcher's environment as remoteEnv. Run\n" +
      "`locald build --export` first. Edits you make are kept unless you pass --force.",
    flags: [{ name: "force", kind: "bool", help: "replace a file you edited" }, json],
    examples: ["locald build -B heroku/builder:24 --export && locald devcontainer"],
    load: () => import("./commands/devcontainer.ts"),
  },
  {
    name: "cache",
    summary: "see and reclaim the disk locald uses (project states, builders, tools)",
    usage: CACHE_SUBCOMMANDS.flatMap((s) => s.usage),
    flags: flagsOf(CACHE_SUBCOMMANDS),
    subcommands: CACHE_SUBCOMMANDS,
    examples: ["locald cache ls", "locald cache prune --dry-run", "locald cache prune --all"],
    load: () => import("./commands/cache.ts"),
  },
  {
    name: "setup",
    summary: "download and verify the tools locald needs (the CNB lifecycle)",
    usage: ["locald setup [--json]"],
    flags: [json],
    examples: [
      "locald setup",
      "LOCALD_LIFECYCLE_MIRROR=https://mirror.example/lifecycle locald setup",
    ],
    load: () => import("./commands/setup.ts"),
  },
  {
    name: "vm",
    summary: "manage the VM (macOS) or WSL distribution (Windows) that builds run in",
    usage: VM_SUBCOMMANDS.flatMap((s) => s.usage),
    description:
      "macOS: locald's own Lima VM (Apple Virtualization.framework, Ubuntu 24.04) with your\n" +
      "home directory mounted at the same path. Windows: the WSL 2 distribution locald uses\n" +
      "(LOCALD_WSL_DISTRO, else the default one); `rm` removes only locald's state from it.\n" +
      "LOCALD_BACKEND=native|lima|wsl overrides the choice made from the operating system.",
    flags: flagsOf(VM_SUBCOMMANDS),
    subcommands: VM_SUBCOMMANDS,
    examples: ["locald vm start", "locald vm status --json", "locald vm shell", "locald vm rm"],
    load: () => import("./commands/vm.ts"),
  },
  {
    name: "completions",
    summary: "print a shell completion script (bash, zsh, fish or pwsh)",
    usage: ["locald completions bash|zsh|fish|pwsh"],
    description: "Completes commands, their flags and flag values. The script is generated from\n" +
      "this binary's command table, so regenerate it after upgrading locald.",
    flags: [],
    examples: [
      "locald completions bash > ~/.local/share/bash-completion/completions/locald",
      "locald completions zsh > ~/.zfunc/_locald   # with fpath+=(~/.zfunc) before compinit",
      "locald completions fish > ~/.config/fish/completions/locald.fish",
      "locald completions pwsh | Out-String | Invoke-Expression   # in $PROFILE",
    ],
    load: () => import("./commands/completions.ts"),
  },
  {
    name: "doctor",
    summary: "check this machine: backend, lifecycle, sandbox, disk use, the project's userland",
    usage: ["locald doctor [--json]"],
    description: "Each check prints ok, warn, fail or info, and a fix where there is one.\n" +
      "Exits 1 when a check fails (a warning does not).",
    flags: [json],
    examples: ["locald doctor", "locald doctor --json"],
    load: () => import("./commands/doctor.ts"),
  },
  {
    name: "version",
    summary: "print locald's version and the pinned tool versions",
    usage: ["locald version [--json]"],
    flags: [json],
    examples: ["locald version", "locald version --json"],
    load: () => import("./commands/version.ts"),
  },
  {
    name: "help",
    summary: "show help for a command",
    usage: ["locald help [COMMAND [SUBCOMMAND]]"],
    flags: [],
    examples: ["locald help build", "locald help builder pull"],
    load: () => import("./commands/help.ts"),
  },
];

/** For the completion scripts only: not in help, not completed, never suggested. */
export const HIDDEN_COMMANDS: CommandSpec[] = [
  {
    name: "__complete",
    summary: "print completion candidates (process types, builder references), one a line",
    usage: ["locald __complete processes|builders [-C DIR]"],
    flags: [],
    load: () => import("./commands/complete.ts"),
  },
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name) ?? HIDDEN_COMMANDS.find((c) => c.name === name);
}

/** The table handed to every command in its context (help and completions read it). */
export const TABLE: CommandTable = { commands: COMMANDS, find: findCommand };
