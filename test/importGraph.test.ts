/**
 * The house rules, checked on the import graph of the TypeScript sources (read with the compiler's own
 * `preProcessFile`, which sees `import`, `import type`, `export … from` and `require`): nothing outside test/ imports
 * test/ or runs its files by path; src/ never imports the lab, the scripts or the examples; src/ and lab/ have no import loop; config is the
 * ground floor (it imports no other src/ folder); the credential library apps import reaches no Pulumi package; the
 * browser module imports nothing outside its folder.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const ROOT = join(__dirname, "..");
/** Folders whose sources are read; node_modules, build output and dot-folders are never entered. */
const SOURCE_ROOTS = ["index.ts", "src", "lab", "scripts", "examples", "test"];

/** One module's imports: files of this repository (relative to ROOT) and packages by name. */
interface ModuleImports {
  readonly files: string[];
  readonly packages: string[];
}

/** Every .ts file under the source roots, relative to ROOT. */
function sourceFiles(): string[] {
  const found: string[] = [];
  const walk = (path: string): void => {
    const absolute = join(ROOT, path);
    if (!existsSync(absolute)) return;
    if (statSync(absolute).isDirectory()) {
      for (const entry of readdirSync(absolute)) {
        if (entry === "node_modules" || entry.startsWith(".")) continue;
        walk(join(path, entry));
      }
    } else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) {
      found.push(path);
    }
  };
  for (const root of SOURCE_ROOTS) walk(root);
  return found.sort();
}

/** The repository file a relative specifier names (`./x` → `x.ts` or `x/index.ts`), if it is one. */
function resolveSpecifier(from: string, specifier: string): string | undefined {
  const base = resolve(ROOT, dirname(from), specifier);
  for (const candidate of [`${base}.ts`, join(base, "index.ts"), base]) {
    if (candidate.endsWith(".ts") && existsSync(candidate)) return relative(ROOT, candidate);
  }
  return undefined;
}

/** The import graph of the repository's TypeScript sources. */
function importGraph(): Map<string, ModuleImports> {
  const graph = new Map<string, ModuleImports>();
  for (const file of sourceFiles()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true);
    const files: string[] = [];
    const packages: string[] = [];
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith(".")) {
        const target = resolveSpecifier(file, fileName);
        assert.ok(target, `${file}: import "${fileName}" names no .ts file of this repository`);
        files.push(target);
      } else if (!fileName.startsWith("node:")) {
        packages.push(fileName);
      }
    }
    graph.set(file, { files, packages });
  }
  return graph;
}

/** Every import loop among `nodes`, each as the files around it (Tarjan's strongly connected components). */
function importLoops(edges: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const loops: string[][] = [];
  let next = 0;
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const target of edges.get(node) ?? []) {
      if (!edges.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(target) ?? 0));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfImport = (edges.get(node) ?? []).includes(node);
    if (component.length > 1 || selfImport) loops.push(component.sort());
  };
  for (const node of edges.keys()) if (!index.has(node)) visit(node);
  return loops;
}

const graph = importGraph();
const imports = (predicate: (file: string) => boolean): Array<[string, ModuleImports]> =>
  [...graph.entries()].filter(([file]) => predicate(file));
const under = (folder: string) => (file: string): boolean => file.startsWith(`${folder}/`);

test("the loop finder finds loops, long and short, and nothing in a tree", () => {
  const tree = new Map([["a", ["b", "c"]], ["b", ["c"]], ["c", []]]);
  assert.deepEqual(importLoops(tree), []);
  const loops = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["d"]], ["e", ["a"]]]);
  assert.deepEqual(importLoops(loops).sort(), [["a", "b", "c"], ["d"]]);
});

test("the sources are all read: the checks below see src/, lab/, scripts/ and the tests", () => {
  for (const folder of ["src/config", "src/components", "lab", "scripts", "test"]) {
    assert.ok(imports(under(folder)).length > 0, `no source file found under ${folder}/`);
  }
});

test("nothing outside test/ imports from test/", () => {
  const leaks = imports((file) => !under("test")(file)).flatMap(([file, { files }]) =>
    files.filter(under("test")).map((target) => `${file} → ${target}`),
  );
  assert.deepEqual(leaks, [], "the lab and the product must not depend on the tests' support files");
});

test("nothing outside test/ runs a file of test/ by path either (a child process, a worker)", () => {
  const pathIntoTests = /join\([^)]*["']test["']|["'`](\.\.?\/)*test\/(support\/)?[\w-]+\.ts/;
  const found = imports((file) => !under("test")(file))
    .map(([file]) => [file, readFileSync(join(ROOT, file), "utf8").split("\n")] as const)
    .flatMap(([file, lines]) => lines.flatMap((line, i) => (pathIntoTests.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
  assert.deepEqual(found, []);
});

test("src/ imports only src/: never the lab, the scripts, the examples or the program", () => {
  const leaks = imports(under("src")).flatMap(([file, { files }]) =>
    files.filter((target) => !under("src")(target)).map((target) => `${file} → ${target}`),
  );
  assert.deepEqual(leaks, []);
});

test("src/ and lab/ have no import loop", () => {
  for (const folder of ["src", "lab"]) {
    const edges = new Map(imports(under(folder)).map(([file, { files }]) => [file, files.filter(under(folder))]));
    assert.deepEqual(importLoops(edges), [], `import loops in ${folder}/`);
  }
});

test("src/config is the ground floor: it imports no other folder of src/", () => {
  const upward = imports(under("src/config")).flatMap(([file, { files }]) =>
    files.filter((target) => !under("src/config")(target)).map((target) => `${file} → ${target}`),
  );
  assert.deepEqual(upward, []);
});

test("the credential library that apps import (coturn-pulumi/credentials) reaches no Pulumi package", () => {
  const entry = "src/credentials/index.ts";
  assert.ok(graph.has(entry), `${entry} is missing`);
  const seen = new Set<string>();
  const pending = [entry];
  const pulumiImports: string[] = [];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const module = graph.get(file);
    if (!module) continue;
    pulumiImports.push(...module.packages.filter((name) => name.startsWith("@pulumi/")).map((name) => `${file} → ${name}`));
    pending.push(...module.files);
  }
  assert.deepEqual(pulumiImports, []);
});

test("the browser module (coturn-pulumi/browser) imports only its own folder: no Node built-in, no package", () => {
  // Read again here: the graph leaves out node: built-ins, which a browser has none of.
  const outside = imports(under("src/browser")).flatMap(([file, { files }]) => [
    ...files.filter((target) => !under("src/browser")(target)).map((target) => `${file} → ${target}`),
    ...ts.preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true).importedFiles
      .filter(({ fileName }) => !fileName.startsWith("."))
      .map(({ fileName }) => `${file} → ${fileName}`),
  ]);
  assert.ok(graph.has("src/browser/index.ts"), "src/browser/index.ts is missing");
  assert.deepEqual(outside, []);
});
