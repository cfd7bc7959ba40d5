/**
 * Loads the files in templates/: Handlebars templates compiled for config files (no HTML escaping, strict about
 * missing fields) and static files read as they are.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";

/** Folder holding the templates, at the project root. */
export const TEMPLATES_DIR = join(__dirname, "..", "..", "templates");

const engine = Handlebars.create();
engine.registerHelper("indent", (text: unknown, width: unknown) => {
  const pad = " ".repeat(Number(width));
  return String(text)
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => (line === "" ? "" : pad + line))
    .join("\n");
});
engine.registerHelper("json", (value: unknown) => JSON.stringify(value));

const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** Renders `templates/<name>` with `context`; a field the template uses but the context lacks is an error. */
export function renderTemplate(name: string, context: object): string {
  let template = compiled.get(name);
  if (!template) {
    template = engine.compile(readTemplate(name), { noEscape: true, strict: true });
    compiled.set(name, template);
  }
  return template(context);
}

/** Returns `templates/<name>` as it is, for files that need no rendering. */
export function readTemplate(name: string): string {
  return readFileSync(join(TEMPLATES_DIR, name), "utf8");
}
