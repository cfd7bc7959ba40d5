/**
 * The public API is documented: every export of the package's two entry points (src/index.ts, and
 * src/credentials/index.ts for `coturn-pulumi/credentials`), and every property of an exported interface or class
 * declared in src/, carries a TSDoc comment, read with the TypeScript checker (what an editor shows a user).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import ts from "typescript";

const ROOT = join(__dirname, "..");
const ENTRY_POINTS = ["src/index.ts", "src/credentials/index.ts"];

/** The TSDoc text of a symbol, empty when it has none. */
function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
}

/** `entry:export` (and `entry:export.member`) for each export of `entry` without documentation. */
function undocumented(program: ts.Program, entry: string): { exports: string[]; missing: string[] } {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(ROOT, entry)) ?? assert.fail(`${entry} is not in the program`);
  const module = checker.getSymbolAtLocation(source) ?? assert.fail(`${entry} is not a module`);
  const exports: string[] = [];
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(module)) {
    exports.push(exported.name);
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (docOf(target, checker) === "") missing.push(`${entry}:${exported.name}`);
    if (!(target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class))) continue;
    for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))) {
      const declaredIn = member.declarations?.[0]?.getSourceFile().fileName ?? "";
      if (!declaredIn.startsWith(join(ROOT, "src"))) continue;
      if (docOf(member, checker) === "") missing.push(`${entry}:${exported.name}.${member.name}`);
    }
  }
  return { exports, missing };
}

test("every export of the public API, and every property of its interfaces and classes, has TSDoc", () => {
  const program = ts.createProgram(
    ENTRY_POINTS.map((entry) => join(ROOT, entry)),
    { strict: true, skipLibCheck: true, noEmit: true, types: ["node"], module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  );
  const [main, credentials] = ENTRY_POINTS.map((entry) => undocumented(program, entry));
  for (const name of ["TurnServer", "TurnServerArgs", "GeoDns", "GeoDnsArgs", "CloudAdapter", "cloudAdapter", "loadStackConfig", "mintTurnCredential", "verifyTurnCredential"]) {
    assert.ok(main.exports.includes(name), `src/index.ts does not export ${name}`);
  }
  assert.ok(credentials.exports.includes("mintTurnCredential") && credentials.exports.includes("verifyTurnCredential"));
  assert.deepEqual([...main.missing, ...credentials.missing], []);
});
