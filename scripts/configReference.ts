/**
 * npm run config-reference [-- --write]
 *
 * Prints the config reference table generated from the schema; with --write, updates it in README.md.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { configReferenceMarkdown, withConfigReference } from "../src/config/reference";

const { values } = parseArgs({ options: { write: { type: "boolean", default: false } }, strict: true });
if (values.write) {
  const readme = join(__dirname, "..", "README.md");
  writeFileSync(readme, withConfigReference(readFileSync(readme, "utf8")));
  console.log(`Updated the config reference in ${readme}`);
} else {
  process.stdout.write(configReferenceMarkdown());
}
