/**
 * The docs stay true: the config reference page is the one generated from the schema, and CI runs README's test command.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CONFIG_REFERENCE_PAGE, withConfigReference } from "../src/config/reference";
import { configKeySchemas } from "../src/config/schema";

const ROOT = join(__dirname, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");

test(`${CONFIG_REFERENCE_PAGE} is the one generated from the schema`, () => {
  const page = readFileSync(join(ROOT, CONFIG_REFERENCE_PAGE), "utf8");
  assert.equal(page, withConfigReference(page), "run: npm run config-reference -- --write");
  for (const key of Object.keys(configKeySchemas)) assert.ok(page.includes(`\`coturn:${key}\``), key);
});

test(".ci/run runs exactly the test command README gives", () => {
  const command = "bash scripts/test.sh";
  assert.match(readme, new RegExp(`^${command}\\s+# the whole test suite$`, "m"));
  const ci = readFileSync(join(ROOT, ".ci", "run"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  assert.equal(ci.at(-1), command);
});
