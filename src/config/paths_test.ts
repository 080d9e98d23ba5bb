import assert from "node:assert/strict";
import { localdHome } from "./paths.ts";

Deno.test("LOCALD_HOME, then XDG_DATA_HOME, then the platform's per-user data directory", () => {
  assert.equal(localdHome({ LOCALD_HOME: "/x", HOME: "/h" }), "/x");
  assert.equal(localdHome({ XDG_DATA_HOME: "/d", HOME: "/h" }, "linux"), "/d/locald");
  assert.equal(localdHome({ HOME: "/h" }, "linux"), "/h/.local/share/locald");
  assert.match(
    localdHome({ LOCALAPPDATA: "C:\\Users\\u\\AppData\\Local" }, "windows"),
    /AppData.Local.locald$/,
  );
  assert.throws(() => localdHome({}, "linux"), /HOME is not set/);
});
