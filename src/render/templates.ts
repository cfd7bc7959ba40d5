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

/**
 * Returns the shell script `templates/<name>` as the VM gets it: without comment lines and blank lines, which keeps
 * the user-data within EC2's 16 KiB limit. The shebang and `# shellcheck` directives stay, and a line says where the
 * commented source is. The scripts have no heredocs or multi-line strings, so a line that starts with `#` is always
 * a comment (the artifact tests run bash -n and shellcheck on this form, and the runtime tests run it).
 */
export function readShellScript(name: string): string {
  return withoutComments(name, readTemplate(name));
}

/** Like `readShellScript`, for a shell script that is a Handlebars template. */
export function renderShellScript(name: string, context: object): string {
  return withoutComments(name, renderTemplate(name, context));
}

function withoutComments(name: string, script: string): string {
  const [shebang, ...body] = script.split("\n");
  const kept = body.filter((line) => {
    const trimmed = line.trim();
    return trimmed !== "" && (!trimmed.startsWith("#") || trimmed.startsWith("# shellcheck "));
  });
  return [shebang, `# templates/${name} of coturn-pulumi with its comments removed to fit EC2's 16 KiB user-data limit: read them there.`, ...kept, ""].join(
    "\n",
  );
}
