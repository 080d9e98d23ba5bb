import assert from "node:assert/strict";
import {
  checkVzSupported,
  limaHome,
  longestSocketPath,
  parseLimaList,
  parseLogLine,
} from "./lima.ts";
import { LocaldError } from "../errors.ts";
import { envAndDirs } from "../config/paths.ts";

Deno.test("LIMA_HOME stays under macOS's 104-byte socket limit", () => {
  assert.equal(limaHome(envAndDirs({ HOME: "/Users/ann" })), "/Users/ann/.local/share/locald/lima");
  const longName = "/Users/" + "x".repeat(40);
  assert.equal(limaHome(envAndDirs({ HOME: longName })), `${longName}/.locald/lima`);
  assert.ok(new TextEncoder().encode(longestSocketPath(`${longName}/.locald/lima`)).length < 104);
  assert.throws(
    () => limaHome(envAndDirs({ HOME: "/Users/" + "y".repeat(100) })),
    (e: unknown) => e instanceof LocaldError && /LOCALD_LIMA_HOME/.test(e.hint ?? ""),
  );
  assert.throws(
    () => limaHome(envAndDirs({ LOCALD_LIMA_HOME: "/" + "z".repeat(90) })),
    /would be \d+ bytes/,
  );
});

Deno.test("vz needs macOS 13 (Darwin 22): older Macs get a clear error", () => {
  checkVzSupported("22.6.0");
  checkVzSupported("25.0.0");
  assert.throws(() => checkVzSupported("21.6.0"), /macOS 12 .*needs macOS 13 or newer/);
});

Deno.test("limactl list --json lines and logrus lines parse", () => {
  const list = parseLimaList(
    '{"name":"other","status":"Running","dir":"/x"}\n' +
      '{"name":"locald","status":"Broken","dir":"/h/locald","errors":["boom"],' +
      '"config":{"mounts":[{"location":"/Users/ann","writable":true}]}}\n',
  );
  assert.equal(list[1].status, "Broken");
  assert.deepEqual(list[1].mounts, ["/Users/ann"]);
  assert.deepEqual(
    parseLogLine('time="t" level=fatal msg="instance \\"locald\\" is stopped"'),
    { level: "fatal", msg: 'instance "locald" is stopped' },
  );
});
