/**
 * README stays true: its config reference is the one generated from the schema, and CI runs its test command.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { withConfigReference } from "../src/config/reference";
import { configKeySchemas } from "../src/config/schema";

const ROOT = join(__dirname, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

test("README's config reference is the one generated from the schema", () => {
  assert.equal(readme, withConfigReference(readme), "run: npm run config-reference -- --write");
  for (const key of Object.keys(configKeySchemas)) assert.ok(readme.includes(`\`coturn:${key}\``), key);
});

test(".ci/run runs exactly the test command README gives", () => {
  const command = "bash scripts/test.sh";
  assert.match(readme, new RegExp(`^${command}\\s+# the whole test suite$`, "m"));
  const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  assert.equal(ci.at(-1), command);
});
