/**
 * npm run config-reference [-- --write]
 *
 * Prints the config reference table generated from the schema; with --write, updates it in docs/config-reference.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CONFIG_REFERENCE_PAGE, configReferenceMarkdown, withConfigReference } from "../src/config/reference";

const { values } = parseArgs({ options: { write: { type: "boolean", default: false } }, strict: true });
if (values.write) {
  const page = join(__dirname, "..", CONFIG_REFERENCE_PAGE);
  writeFileSync(page, withConfigReference(readFileSync(page, "utf8")));
  console.log(`Updated the config reference in ${page}`);
} else {
  process.stdout.write(configReferenceMarkdown());
}
