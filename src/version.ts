/** Stamped by scripts/compile.ts at release time; "dev" in a source checkout. */
export const VERSION = "0.1.0-dev";
