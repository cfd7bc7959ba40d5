/**
 * The docs stay true and findable: README starts with the two commands and stays short, its commands are the ones CI
 * and scripts/local.sh really run, the config reference page is the one generated from the schema, and every relative
 * link in README.md, CONTRIBUTING.md and docs/*.md reaches a file that exists and, with a `#anchor`, a heading of that
 * file by GitHub's slug rules.
 *
 * The Markdown is read with a small line scanner (no Markdown parser is a dependency): fenced code blocks and inline
 * code are skipped, ATX headings (`# …`) give the anchors. Setext headings (a line underlined with `===`) are not
 * recognised; the docs do not use them.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, test } from "node:test";
import { CONFIG_REFERENCE_PAGE, withConfigReference } from "../src/config/reference";
import { configKeySchemas } from "../src/config/schema";
import { METRIC_CATALOG } from "../src/monitoring/metricCatalog";

const ROOT = join(__dirname, "..");
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const readme = read("README.md");

/** README's budget: 12 KB, as `wc -c` counts it (bytes). */
const README_MAX_BYTES = 12_000;
/** The two commands must be on screen without scrolling far. */
const COMMANDS_WITHIN_LINES = 40;
const TEST_COMMAND = "bash scripts/test.sh";
const LOCAL_COMMAND = "bash scripts/local.sh";

/** The Markdown files whose links are checked, relative to the repository root. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`);
  return ["README.md", "CONTRIBUTING.md", ...docs];
}

/**
 * The file's lines outside fenced code blocks (``` or ~~~, indented or not, closed by a fence of the same character at
 * least as long); lines inside a block become empty so that line numbers stay.
 */
function proseLines(text: string): string[] {
  let fence: { char: string; length: number } | undefined;
  return text.split("\n").map((line) => {
    const match = /^\s*(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence) {
      if (match && match[1][0] === fence.char && match[1].length >= fence.length && match[2].trim() === "") fence = undefined;
      return "";
    }
    if (match && !(match[1][0] === "`" && match[2].includes("`"))) {
      fence = { char: match[1][0], length: match[1].length };
      return "";
    }
    return line;
  });
}

/** Prose with inline code spans (a run of backticks up to the next run of the same length) blanked out. */
function withoutInlineCode(prose: string): string {
  return prose.replace(/(?<!`)(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, (span) => span.replace(/[^\n]/g, " "));
}

/** GitHub's anchor for a heading's text: lowercase, punctuation but `-` and `_` removed, each space a `-`. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link or image keeps its text
    .replace(/<[^>]+>/g, ""); // inline HTML
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The anchors of a Markdown file's headings; repeated slugs get `-1`, `-2`, … as on GitHub. */
export function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const match = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (!match) continue;
    const base = githubSlug(match[1]);
    let slug = base;
    let count = seen.get(base) ?? 0;
    while (anchors.has(slug)) slug = `${base}-${++count}`;
    seen.set(base, count);
    anchors.add(slug);
  }
  return anchors;
}

/** Every link target in the prose of a Markdown file: inline `[text](target)` and reference definitions. */
export function linkTargets(text: string): { target: string; line: number }[] {
  const prose = withoutInlineCode(proseLines(text).join("\n"));
  const targets: { target: string; line: number }[] = [];
  const lineOf = (index: number): number => prose.slice(0, index).split("\n").length;
  for (const match of prose.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) {
    targets.push({ target: match[1].replace(/^<|>$/g, ""), line: lineOf(match.index) });
  }
  for (const match of prose.matchAll(/^ {0,3}\[[^\]]+\]:[ \t]*(\S+)/gm)) {
    targets.push({ target: match[1].replace(/^<|>$/g, ""), line: lineOf(match.index) });
  }
  return targets;
}

/** What is wrong with one relative link from `file`, or undefined when it resolves. */
function brokenLink(file: string, target: string): string | undefined {
  if (/^(https?|mailto):/i.test(target)) return undefined;
  const hash = target.indexOf("#");
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = path === "" ? join(ROOT, file) : join(ROOT, dirname(file), path);
  if (!relative(ROOT, resolved) || relative(ROOT, resolved).startsWith("..")) return `${target} leaves the repository`;
  if (!existsSync(resolved)) return `${target}: no such file`;
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith(".md")) return `${target}: an anchor into a file that is not Markdown`;
  const anchors = headingAnchors(readFileSync(resolved, "utf8"));
  return anchors.has(anchor) ? undefined : `${target}: no heading with anchor #${anchor} (has: ${[...anchors].join(", ")})`;
}

/** The command of a shell line: what comes before a trailing `# comment`. */
const commandOf = (line: string): string => line.replace(/\s+#.*$/, "").trim();

/** The non-empty, non-comment lines of a shell script. */
const commandLines = (script: string): string[] =>
  script.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));

describe("README", () => {
  test(`is at most ${README_MAX_BYTES} bytes`, () => {
    const bytes = Buffer.byteLength(readme, "utf8");
    assert.ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes; move depth to docs/`);
  });

  test(`gives the local and the test command within its first ${COMMANDS_WITHIN_LINES} lines`, () => {
    const lines = readme.split("\n");
    const local = lines.findIndex((line) => line.startsWith(`${LOCAL_COMMAND} `) || line === LOCAL_COMMAND);
    const tests = lines.findIndex((line) => /^bash scripts\/test\.sh\s+# the whole test suite$/.test(line));
    assert.ok(local >= 0 && local < COMMANDS_WITHIN_LINES, `the local command is on line ${local + 1}`);
    assert.ok(tests >= 0 && tests < COMMANDS_WITHIN_LINES, `the test command is on line ${tests + 1}`);
  });

  test(".ci/run runs exactly the test command README gives", () => {
    assert.match(readme, new RegExp(`^${TEST_COMMAND}\\s+# the whole test suite$`, "m"));
    const line = readme.split("\n").find((l) => l.startsWith("bash scripts/test.sh"));
    assert.equal(line && commandOf(line), TEST_COMMAND);
    assert.equal(commandLines(read(".ci/run")).at(-1), TEST_COMMAND);
  });

  test("README's local command is scripts/local.sh, which ends by running npm run local", () => {
    const line = readme.split("\n").find((l) => l.startsWith("bash scripts/local.sh"));
    assert.equal(line && commandOf(line), LOCAL_COMMAND);
    const script = LOCAL_COMMAND.replace(/^bash /, "");
    assert.ok(existsSync(join(ROOT, script)), `${script} exists`);
    const last = commandLines(read(script)).at(-1) ?? "";
    assert.match(last, /^(exec\s+)?npm run(\s+-\S+)*\s+local(\s|$)/, `the last command of ${script}: ${last}`);
  });
});

describe("config reference", () => {
  test(`${CONFIG_REFERENCE_PAGE} is the one generated from the schema`, () => {
    const page = read(CONFIG_REFERENCE_PAGE);
    assert.equal(page, withConfigReference(page), "run: npm run config-reference -- --write");
    for (const key of Object.keys(configKeySchemas)) assert.ok(page.includes(`\`coturn:${key}\``), key);
  });
});

describe("links", () => {
  test("the link scanner skips code and finds inline and reference links", () => {
    const text = [
      "# Title",
      "See [a](a.md) and `[not](x.md)` and [b](<b c.md> \"title\").",
      "```sh",
      "[nor](y.md)",
      "```",
      "  ~~~",
      "[nor](z.md)",
      "  ~~~",
      "[ref]: docs/ref.md#part",
    ].join("\n");
    assert.deepEqual(
      linkTargets(text).map((link) => link.target),
      ["a.md", "b c.md", "docs/ref.md#part"],
    );
  });

  test("anchors follow GitHub's slugs, repeated headings numbered", () => {
    const text = "# How fast the relay is: `npm run bench`\n## Notes\n## Notes\n```\n# not a heading\n```\n## Before `pulumi up`: what";
    assert.deepEqual([...headingAnchors(text)], ["how-fast-the-relay-is-npm-run-bench", "notes", "notes-1", "before-pulumi-up-what"]);
    assert.equal(githubSlug("Quickstart (deploy a region)"), "quickstart-deploy-a-region");
    assert.equal(githubSlug("snake_case and [a link](x.md)"), "snake_case-and-a-link");
  });

  for (const file of markdownFiles()) {
    test(`every relative link in ${file} resolves`, () => {
      const broken = linkTargets(read(file)).flatMap(({ target, line }) => {
        const problem = brokenLink(file, target);
        return problem ? [`${file}:${line}: ${problem}`] : [];
      });
      assert.deepEqual(broken, []);
    });
  }
});

test("docs/monitoring.md's metric table is the catalog's, row for row", () => {
  const doc = readFileSync(join(ROOT, "docs", "monitoring.md"), "utf8");
  const block = /<!-- metric table: [^>]*-->\n\| metric .*\n\| --- .*\n([\s\S]*?)<!-- end of metric table -->/.exec(doc)?.[1] ?? "";
  const expected = METRIC_CATALOG.map(
    (m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(", ") || "–"} | ${m.source} | ${m.help} |\n`,
  ).join("");
  assert.equal(block, expected, "regenerate the table between the markers from src/monitoring/metricCatalog.ts");
});
