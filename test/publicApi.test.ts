/**
 * The public API as a user gets it: `npm pack` builds the package (JavaScript, declarations, templates), the tarball
 * installs into a copy of examples/existing-program (a team's own Pulumi program that imports `coturn-pulumi` BY
 * PACKAGE NAME and creates one TURN region next to a resource of its own), the program type-checks against the
 * packed declarations, where every export has TSDoc (what an editor shows a user), and it runs under the same mocks as the project's own program: the firewall, the static IP,
 * the user-data as a secret and exactly as rendered, outputs without secrets. `coturn-pulumi/credentials` loads alone.
 * `coturn-pulumi/browser` type-checks too, from a web app's file beside the program (with the DOM lib, as apps have).
 *
 * The copy sits in a dot-folder under examples/, so that the Pulumi SDKs it imports resolve to the project's own
 * node_modules, the copies the mocks are installed on (as in a user's program, where they are its own
 * dependencies; the package declares them as peers). npm installs the rest of the package's dependencies from its
 * cache, which `npm ci` filled.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import ts from "typescript";
import { bindAddressFor } from "../src/plan/addresses";
import { renderVm } from "../src/render/vmFiles";
import { CASES, expectedIngress, ofType, only } from "./support/cloudCases";
import { MOCK, MOCK_ACCESS } from "../lab/mocks/mockCloud";
import { TEST_CLOUDFLARE_TOKEN, TEST_SECRET, exampleConfig, exampleStackConfig, runProgram, type ProgramRun } from "./support/program";

const ROOT = join(__dirname, "..");
const EXAMPLE = join(ROOT, "examples", "existing-program");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string };
/** A web app's use of `coturn-pulumi/browser`, written beside the program and checked with it (and the DOM lib). */
const BROWSER_APP = `/// <reference lib="dom" />
import { CallFailedError, IceClient, watchConnection, type IceReport } from "${PACKAGE.name}/browser";

const client = new IceClient({ iceServersUrl: "/ice-servers", headers: () => ({ authorization: "Bearer app-session" }) });

export async function call(signal: (pc: RTCPeerConnection, attempt: "p2p" | "relay") => Promise<void>): Promise<string> {
  try {
    const { pc, attempt, report } = await client.connect(signal, { p2pTimeoutMs: 8000 });
    const relayed: boolean = report?.outcome === "connected" && report.localCandidateType === "relay";
    return \`\${pc.connectionState} via \${attempt}\${relayed ? " (relayed)" : ""}\`;
  } catch (error) {
    if (error instanceof CallFailedError) return error.userMessage;
    throw error;
  }
}

export async function own(pc: RTCPeerConnection): Promise<boolean> {
  const report: IceReport | undefined = await watchConnection(pc, { timeoutMs: 10_000 });
  return report === undefined ? false : client.report(report);
}
`;

/** Where the example's Pulumi project is named: its own name, not this project's. */
const EXAMPLE_PROJECT = "realtime-infra";
const AWS = CASES.find((c) => c.cloud === "aws") ?? assert.fail("no aws case");

/** One file of `npm pack --json`. */
interface PackedFile {
  readonly path: string;
}

/** Runs npm with `args` in `cwd`; its stdout. Its stderr (the build's output) is kept out of the test report. */
function npm(cwd: string, args: readonly string[]): string {
  try {
    return execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
      cwd,
      encoding: "utf8",
      timeout: 240_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(" ")} failed in ${cwd}:\n${stdout ?? ""}${stderr ?? ""}`);
  }
}

/** The TSDoc text of a symbol, empty when it has none. */
function docOf(symbol: ts.Symbol, checker: ts.TypeChecker): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
}

/**
 * The exports of the declaration file `entry`, and those without TSDoc: the export itself, or a property of an
 * exported interface or class declared in the package (`packageDir`).
 */
function undocumentedExports(program: ts.Program, entry: string, packageDir: string): { exports: string[]; missing: string[] } {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry) ?? assert.fail(`${entry} is not in the program`);
  const module = checker.getSymbolAtLocation(source) ?? assert.fail(`${entry} is not a module`);
  const exports: string[] = [];
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(module)) {
    exports.push(exported.name);
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    if (docOf(target, checker) === "") missing.push(exported.name);
    if (!(target.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.Class))) continue;
    for (const member of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))) {
      const declaredIn = member.declarations?.[0]?.getSourceFile().fileName ?? "";
      if (declaredIn.startsWith(packageDir) && docOf(member, checker) === "") missing.push(`${exported.name}.${member.name}`);
    }
  }
  return { exports, missing };
}

describe("the package a user installs (npm pack) in a Pulumi program of their own", () => {
  const packDir = mkdtempSync(join(tmpdir(), "coturn-pack-"));
  const programDir = join(ROOT, "examples", `.installed-${process.pid}`);
  let packed: PackedFile[] = [];
  // Started once the program is installed and awaited by the tests that read it, so that the mock run (a child
  // process) overlaps the type check (in this process).
  let programRun: Promise<ProgramRun>;

  before(async () => {
    const [report] = JSON.parse(npm(ROOT, ["pack", "--json", "--pack-destination", packDir])) as Array<{
      filename: string;
      files: PackedFile[];
    }>;
    packed = report.files;
    const tarball = join(packDir, report.filename);

    mkdirSync(programDir);
    for (const file of ["index.ts", "Pulumi.yaml", "tsconfig.json"]) cpSync(join(EXAMPLE, file), join(programDir, file));
    writeFileSync(join(programDir, "browser-app.ts"), BROWSER_APP);
    const manifest = JSON.parse(readFileSync(join(EXAMPLE, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const ownDependencies = Object.fromEntries(Object.entries(manifest.dependencies).filter(([name]) => !name.startsWith("@pulumi/")));
    assert.ok(PACKAGE.name in ownDependencies, `the example does not depend on ${PACKAGE.name}`);
    writeFileSync(
      join(programDir, "package.json"),
      JSON.stringify({ ...manifest, dependencies: { ...ownDependencies, [PACKAGE.name]: `file:${tarball}` } }, null, 2),
    );
    npm(programDir, ["install", "--prefer-offline", "--legacy-peer-deps", "--no-package-lock"]);

    programRun = runProgram(exampleConfig(AWS.stack), { path: join(programDir, "index.ts"), project: EXAMPLE_PROJECT });
    programRun.catch(() => undefined); // read by the tests; an early failure must not be an unhandled rejection
  });

  after(() => {
    rmSync(programDir, { recursive: true, force: true });
    rmSync(packDir, { recursive: true, force: true });
  });

  test("the tarball holds the built JavaScript with declarations and the templates, and no sources, tests or lab", () => {
    const paths = packed.map((f) => f.path);
    for (const path of ["package.json", "dist/index.js", "dist/index.d.ts", "dist/credentials/index.js", "dist/credentials/index.d.ts", "dist/browser/index.js", "dist/browser/index.d.ts", "templates/turnserver.conf.hbs", "templates/cloud-init.yaml.hbs"]) {
      assert.ok(paths.includes(path), `${path} is not in the package`);
    }
    const sourceOrLab = (p: string): boolean => /^(src|lab|test|scripts|stacks)\//.test(p) || (p.endsWith(".ts") && !p.endsWith(".d.ts"));
    assert.deepEqual(paths.filter(sourceOrLab), []);
  });

  test("it installs by package name, with the Pulumi SDKs as the program's own (peers), not copies of its own", () => {
    const installed = join(programDir, "node_modules", PACKAGE.name);
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { version: string; exports: Record<string, unknown> };
    assert.equal(manifest.version, PACKAGE.version);
    assert.deepEqual(Object.keys(manifest.exports).sort(), [".", "./browser", "./credentials", "./package.json"]);
    assert.ok(!existsSync(join(programDir, "node_modules", "@pulumi")), "the install brought a second copy of the Pulumi SDKs");
  });

  test("the program type-checks against the packed declarations (strict), and every export there has TSDoc", () => {
    const { config } = ts.readConfigFile(join(programDir, "tsconfig.json"), (path) => ts.sys.readFile(path));
    const { fileNames, options } = ts.parseJsonConfigFileContent(config, ts.sys, programDir);
    const program = ts.createProgram([...fileNames, join(programDir, "browser-app.ts")], options);
    const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    assert.deepEqual(errors, []);

    const installed = join(programDir, "node_modules", PACKAGE.name);
    const [main, credentials, browser] = [PACKAGE.name, `${PACKAGE.name}/credentials`, `${PACKAGE.name}/browser`].map((specifier) => {
      const resolved = ts.resolveModuleName(specifier, join(programDir, "index.ts"), options, ts.sys).resolvedModule?.resolvedFileName ?? "";
      assert.ok(resolved.startsWith(installed), `${specifier} resolves to "${resolved}", not into the installed package`);
      return undocumentedExports(program, resolved, installed);
    });
    for (const name of ["TurnServer", "TurnServerArgs", "GeoDns", "GeoDnsArgs", "CloudAdapter", "cloudAdapter", "loadStackConfig", "mintTurnCredential"]) {
      assert.ok(main.exports.includes(name), `${PACKAGE.name} does not export ${name}`);
    }
    assert.ok(credentials.exports.includes("mintTurnCredential") && credentials.exports.includes("verifyTurnCredential"));
    for (const name of ["IceClient", "watchConnection", "CallFailedError", "selectedPairReport", "userMessageFor", "FAILURE_REASONS", "ICE_REPORT_PATH"]) {
      assert.ok(browser.exports.includes(name), `${PACKAGE.name}/browser does not export ${name}`);
    }
    assert.deepEqual([...main.missing, ...credentials.missing, ...browser.missing], [], "exports without TSDoc (what an editor shows a user)");
  });

  test("it creates its own resource and one region: the components, in its own project", async () => {
    const run = await programRun;
    assert.equal(run.error, undefined, `the program failed: ${run.error}`);
    assert.deepEqual(ofType(run, "aws:sns/topic:Topic").map((r) => r.name), ["realtime-alerts"]);
    assert.deepEqual(ofType(run, "coturn:index:TurnServer").map((r) => r.name), ["turn-eu"]);
    const tags = JSON.parse(String(only(run, "pulumi:providers:aws").inputs.defaultTags)) as { tags: Record<string, string> };
    assert.equal(tags.tags["coturn:project"], EXAMPLE_PROJECT);
  });

  test("the region's firewall opens exactly the configured listeners, the relay range and SSH from the deployer", async () => {
    const run = await programRun;
    assert.deepEqual(AWS.ingress(run).sort(), expectedIngress(AWS.stack));
    assert.deepEqual(AWS.egress(run).sort(), ["tcp 443 0.0.0.0/0", "tcp 80 0.0.0.0/0", "udp all 0.0.0.0/0"]);
  });

  test("the static IP is protected and reaches the VM", async () => {
    const run = await programRun;
    const [staticIp, ...others] = ofType(run, AWS.staticIpType);
    assert.deepEqual(others, []);
    assert.equal(staticIp.options.protect, true);
    AWS.assertAttached(run);
  });

  test("the user-data is a secret and exactly what the project renders, with no TURN secret in it", async () => {
    const run = await programRun;
    const userData = AWS.userData(only(run, AWS.vmType));
    const expected = renderVm(exampleStackConfig(AWS.stack), { publicIp: MOCK.publicIp, bind: bindAddressFor(AWS.cloud) }, MOCK_ACCESS).userData;
    assert.equal(userData, expected);
    assert.ok(!userData.includes(TEST_SECRET));
  });

  test("outputs give the IP and iceServers without credentials, and carry no secret", async () => {
    const run = await programRun;
    assert.equal(run.outputs.turnPublicIp, MOCK.publicIp);
    const iceServers = run.outputs.iceServers as Array<Record<string, unknown>>;
    assert.ok(iceServers.length > 0 && iceServers.every((s) => Array.isArray(s.urls) && !("credential" in s)), JSON.stringify(iceServers));
    const shown = JSON.stringify(run.outputs);
    for (const secret of [TEST_SECRET, TEST_CLOUDFLARE_TOKEN, "PRIVATE KEY"]) assert.ok(!shown.includes(secret), `an output holds ${secret.slice(0, 12)}…`);
  });

  test("coturn-pulumi/credentials loads alone, without Pulumi, and mints what coturn verifies", () => {
    const script = [
      `const c = require(${JSON.stringify(`${PACKAGE.name}/credentials`)});`,
      `const cred = c.mintTurnCredential({ secret: "s".repeat(40), user: "alice", ttlSeconds: 600 });`,
      `const loaded = Object.keys(require.cache).filter((f) => f.includes("@pulumi"));`,
      `console.log(JSON.stringify({ ok: c.verifyTurnCredential(["s".repeat(40)], cred.username, cred.credential), loaded }));`,
    ].join("\n");
    const out = JSON.parse(execFileSync(process.execPath, ["-e", script], { cwd: programDir, encoding: "utf8" })) as { ok: boolean; loaded: string[] };
    assert.deepEqual(out, { ok: true, loaded: [] });
  });
});
