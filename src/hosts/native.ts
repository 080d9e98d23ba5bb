/**
 * The native Linux host. As a normal user a step runs as is. As root, a step that must not
 * run as root runs in a user namespace where root is mapped to an unprivileged uid: the
 * lifecycle sees uid 1000 and is content, and every file it writes is owned by root on disk,
 * so the results stay usable by root afterwards (no chown dance, nothing left owned by a
 * stranger uid).
 */
import type { Host, HostCommand, Step } from "./types.ts";

/** The uid/gid phases see inside the namespace when locald runs as root. */
export const NAMESPACE_ID = 1000;

export interface NativeHostOptions {
  uid: number;
  /** Path of util-linux unshare. */
  unshare?: string;
}

export function nativeHost(opts: NativeHostOptions): Host {
  const unshare = opts.unshare ?? "unshare";
  return {
    name: "native",
    wrap(step: Step): HostCommand {
      if (opts.uid === 0 && step.dropRoot) {
        return {
          argv: [
            unshare,
            "--user",
            `--map-user=${NAMESPACE_ID}`,
            `--map-group=${NAMESPACE_ID}`,
            "--",
            ...step.argv,
          ],
          env: step.env,
          cwd: step.cwd,
        };
      }
      return { argv: step.argv, env: step.env, cwd: step.cwd };
    },
  };
}

/** The uid/gid the lifecycle should use (CNB_USER_ID/CNB_GROUP_ID) for this invoking user. */
export function cnbIds(uid: number, gid: number): { uid: number; gid: number } {
  return uid === 0 ? { uid: NAMESPACE_ID, gid: NAMESPACE_ID } : { uid, gid };
}
