/**
 * npm run probe -- (--stack <name> | --host <host> | --ice-servers <file|->) [options]
 *
 * Checks a TURN server the way a browser will use it: STUN binding, allocation over each transport, the relayed
 * address, data relayed between two allocations, the TLS certificate (trusted, naming the host, its names, issuer and
 * days to expiry, failing under --min-cert-days), and that forbidden peers are refused. Prints a
 * pass/fail table; exits 0 when everything passed, 1 when a check failed, 2 for unusable input. A global stack's
 * every server is probed at its own address under the shared name, one row per server.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { LISTENER_PORTS } from "../src/config/schema";
import { StackFileError, readStackFile } from "../src/config/stackFile";
import { validateGlobalStackConfig, validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { isGlobalStack } from "../src/config/rawStackConfig";
import { CredentialError, mintTurnCredential } from "../src/credentials/turnRest";
import { DEFAULT_MIN_CERTIFICATE_DAYS } from "../src/probe/certificate";
import { FLEET_HEADER, fleetRows, parseFleetRegions, probeFleet, type FleetRegions } from "../src/probe/fleet";
import { DEFAULT_FORBIDDEN_PEERS, runProbe, type ProbeTarget } from "../src/probe/probeChecks";
import { parseIceServers, ProbeInputError } from "../src/probe/target";
import type { TurnTransport } from "../src/probe/turnClient";
import { joinNegativeNumbers, parseFlags, passphraseFromEnvironment, printTable, runMain, UsageError } from "./cli";

const USAGE = `usage: npm run probe -- (--stack <name> | --host <host> | --ice-servers <file|->) [options]
  --stack <name>            a stack in stacks/ (secret via PULUMI_CONFIG_PASSPHRASE); host = its regionDomain.
                            Several servers: each at its own IP. A global stack: every server of every region,
                            under the shared name (secret: TURN_AUTH_SECRET)
  --host <host>             any TURN server; the shared secret is read from TURN_AUTH_SECRET
  --ice-servers <file|->    an iceServers JSON with username/credential (e.g. npm run local -- --json)
  --transports udp,tcp,tls  transports to allocate over (default: the stack's listeners, or all three)
  --expect-relay-ip <ip>    the static IP relayed addresses must have (default: --stack's publicIp output, or the host if an IP)
  --forbidden-peer <ip>     a peer the relay must refuse; repeatable (default: ${DEFAULT_FORBIDDEN_PEERS.join(", ")})
  --ca <file>               trust this CA / self-signed certificate for turns:
  --insecure-tls            do not verify the TLS certificate's chain (still shows it; names and expiry are checked)
  --min-cert-days <days>    fail when the TLS certificate has fewer whole days left (default: ${DEFAULT_MIN_CERTIFICATE_DAYS})
  --user <id>               user id in minted credentials (default: probe)
  --timeout-ms <ms>         bound on each network step (default: 5000)
  --json                    print the results as JSON instead of a table`;

/** Flags that take a number: `--flag -1` is their (bad) value, which parseArgs would otherwise call ambiguous. */
const NUMBER_FLAGS = ["--timeout-ms", "--min-cert-days"];

function flagsFrom(argv: string[]) {
  return parseFlags(joinNegativeNumbers(argv, NUMBER_FLAGS), {
    stack: { type: "string" },
    host: { type: "string" },
    "ice-servers": { type: "string" },
    transports: { type: "string" },
    "expect-relay-ip": { type: "string" },
    "forbidden-peer": { type: "string", multiple: true },
    ca: { type: "string" },
    "insecure-tls": { type: "boolean", default: false },
    user: { type: "string", default: "probe" },
    "timeout-ms": { type: "string", default: "5000" },
    "min-cert-days": { type: "string", default: String(DEFAULT_MIN_CERTIFICATE_DAYS) },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
}

type Flags = ReturnType<typeof flagsFrom>;

/** Reads a file named by a flag ('-' is stdin), with an error that names the flag. */
function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function parseTransports(value: string): TurnTransport[] {
  const transports = value.split(",").map((t) => t.trim());
  for (const t of transports) {
    if (t !== "udp" && t !== "tcp" && t !== "tls") {
      throw new UsageError(`--transports ${JSON.stringify(value)}: "${t}" is not one of udp, tcp, tls`);
    }
  }
  return transports as TurnTransport[];
}

/** The --min-cert-days value: a whole number of days, 0 or more. */
function parseMinCertDays(value: string): number {
  const days = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(days)) {
    throw new UsageError(`--min-cert-days ${value}: use a whole number of days, 0 or more (e.g. --min-cert-days ${DEFAULT_MIN_CERTIFICATE_DAYS})`);
  }
  return days;
}

/** One output of a stack, through the Pulumi CLI (JSON text with `json`); `fix` says what to do when it fails. */
function stackOutput(stack: string, name: string, fix: string, json = false): string {
  const result = spawnSync("pulumi", ["stack", "output", name, ...(json ? ["--json"] : []), "--stack", stack], { encoding: "utf8" });
  if (result.error || result.status !== 0) {
    throw new UsageError(`could not read the ${name} output of stack "${stack}" (${result.error ? "pulumi CLI not found" : result.stderr.trim()}): ${fix}`);
  }
  return result.stdout.trim();
}

function targetFrom(flags: Flags, hostSecret = process.env.TURN_AUTH_SECRET): ProbeTarget {
  const sources = (["stack", "host", "ice-servers"] as const).filter((k) => flags[k] !== undefined);
  if (sources.length !== 1) throw new UsageError("give exactly one of --stack, --host or --ice-servers");
  const timeoutMs = Number(flags["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000) {
    throw new UsageError(`--timeout-ms ${flags["timeout-ms"]}: use a whole number of milliseconds from 100 to 60000`);
  }
  const minCertificateDays = parseMinCertDays(flags["min-cert-days"]);
  for (const peer of flags["forbidden-peer"] ?? []) {
    if (isIP(peer) === 0) throw new UsageError(`--forbidden-peer ${peer}: not an IP address`);
  }
  const expect = flags["expect-relay-ip"];
  if (expect !== undefined && isIP(expect) === 0) throw new UsageError(`--expect-relay-ip ${expect}: not an IP address`);
  const common = {
    forbiddenPeers: flags["forbidden-peer"] ?? [...DEFAULT_FORBIDDEN_PEERS],
    tls: {
      ...(flags.ca ? { ca: readFlagFile("--ca", flags.ca) } : {}),
      ...(flags["insecure-tls"] ? { rejectUnauthorized: false } : {}),
    },
    timeoutMs,
    minCertificateDays,
  };
  const minting = (secret: string) => () => {
    const credential = mintTurnCredential({ secret, user: flags.user ?? "probe", ttlSeconds: 600 });
    return { username: credential.username, password: credential.credential };
  };

  if (flags["ice-servers"] !== undefined) {
    const file = flags["ice-servers"];
    const input = parseIceServers(readFlagFile("--ice-servers", file), file === "-" ? "stdin" : file);
    return {
      ...common,
      host: input.host,
      ports: input.ports,
      transports: flags.transports ? parseTransports(flags.transports) : input.transports,
      credential: () => ({ username: input.username, password: input.password }),
      ...(expect ? { expectedRelayIp: expect } : isIP(input.host) ? { expectedRelayIp: input.host } : {}),
    };
  }
  if (flags.host !== undefined) {
    const secret = hostSecret;
    if (!secret) throw new UsageError("--host needs the shared secret in the TURN_AUTH_SECRET environment variable (never on the command line)");
    return {
      ...common,
      host: flags.host,
      ports: { plain: LISTENER_PORTS.plain, tls: LISTENER_PORTS.tls },
      transports: parseTransports(flags.transports ?? "udp,tcp,tls"),
      credential: minting(secret),
      ...(expect ? { expectedRelayIp: expect } : isIP(flags.host) ? { expectedRelayIp: flags.host } : {}),
    };
  }
  const stack = flags.stack ?? "";
  if (readStackFile(stack, { mode: "placeholder" }).values["coturn:cloud"] === "local") {
    throw new UsageError(
      `stack "${stack}" is the local target, whose secret lives for one run: ` +
        "npm run --silent local -- --json > ice.json, then npm run probe -- --ice-servers ice.json --ca <its fullchain.pem>",
    );
  }
  const config = validateStackConfig(readStackFile(stack, { mode: "reveal", passphrase: passphraseFromEnvironment() }));
  const listened = (["udp", "tcp", "tls"] as const).filter((l) => config.listeners.has(l));
  return {
    ...common,
    // This stack's own server: behind GeoDNS the shared name may answer from another region.
    host: config.regionDomain,
    ports: { plain: LISTENER_PORTS.plain, tls: LISTENER_PORTS.tls },
    transports: flags.transports ? parseTransports(flags.transports) : listened,
    credential: minting(config.authSecrets[0]),
    expectedRelayIp: expect ?? stackOutput(stack, "publicIp", "pass --expect-relay-ip <the stack's static IP>"),
  };
}

/** Servers to probe one by one: the name they share, their regions, and what each server is probed with. */
interface FleetTarget {
  readonly stack: string;
  readonly sharedName: string;
  readonly regions: FleetRegions;
  readonly base: Omit<ProbeTarget, "host" | "expectedRelayIp">;
}

/**
 * The servers to probe one by one, or undefined for a single target: every server behind a global stack (under the
 * shared name), or every server of a region stack of several (under the region's name, which resolves to any of them).
 */
function fleetFrom(flags: Flags): FleetTarget | undefined {
  const stack = flags.stack;
  // Anything but --stack alone is targetFrom's to judge (and to refuse).
  if (stack === undefined || flags.host !== undefined || flags["ice-servers"] !== undefined) return undefined;
  const raw = readStackFile(stack, { mode: "placeholder" });
  const global = isGlobalStack(raw);
  if (!global && (raw.values["coturn:serverCount"] ?? "1") === "1") return undefined;
  for (const flag of ["expect-relay-ip"] as const) {
    if (flags[flag] !== undefined) throw new UsageError(`--${flag} does not go with a stack of several servers: each server is probed at its own static IP`);
  }
  let sharedName: string;
  let secret: string | undefined;
  if (global) {
    sharedName = validateGlobalStackConfig(raw).domain;
    secret = process.env.TURN_AUTH_SECRET;
    if (!secret) {
      throw new UsageError(
        `global stack "${stack}" has no secret of its own: put the regions' common coturn:authSecret in TURN_AUTH_SECRET, e.g. ` +
          'TURN_AUTH_SECRET="$(pulumi config get coturn:authSecret --stack <a region stack>)"',
      );
    }
  } else {
    const config = validateStackConfig(readStackFile(stack, { mode: "reveal", passphrase: passphraseFromEnvironment() }));
    sharedName = config.regionDomain;
    secret = config.authSecrets[0];
  }
  // The same checks as for one server: the --host path reads the flags, credentials and TLS trust.
  const { host: _host, expectedRelayIp: _expected, ...base } = targetFrom({ ...flags, stack: undefined, host: sharedName }, secret);
  const regions = global
    ? parseFleetRegions(stack, stackOutput(stack, "regions", "run `pulumi up` on the global stack first", true))
    : parseFleetRegions(stack, stackOutput(stack, "servers", "run `pulumi up` on the stack first", true), true);
  return { stack, sharedName, regions, base };
}

/** Probes every server of the fleet; one row per server. */
async function probeServers(fleet: FleetTarget, json: boolean): Promise<number> {
  const servers = fleet.regions.reduce((n, r) => n + r.servers.length, 0);
  const regions = fleet.regions.length === 1 ? "" : ` in ${fleet.regions.length} regions`;
  process.stderr.write(`Probing ${servers} servers${regions} behind ${fleet.sharedName} …\n`);
  const probes = await probeFleet(fleet.regions, fleet.sharedName, fleet.base, (region, server, address) =>
    process.stderr.write(`  ${region.pool}: ${server} (${address})\n`),
  );
  const failed = probes.filter((p) => p.results.some((r) => !r.ok));
  if (json) console.log(JSON.stringify({ domain: fleet.sharedName, ok: failed.length === 0, servers: probes }, null, 2));
  else {
    printTable(FLEET_HEADER, fleetRows(probes));
    console.log(failed.length === 0 ? `\nAll ${probes.length} servers passed.` : `\n${failed.length} of ${probes.length} servers FAILED (npm run probe -- --host <address> shows every check).`);
  }
  return failed.length === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  let target: ProbeTarget;
  let flags: Flags;
  try {
    flags = flagsFrom(process.argv.slice(2));
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    const fleet = fleetFrom(flags);
    if (fleet) return await probeServers(fleet, flags.json);
    target = targetFrom(flags);
  } catch (error) {
    const known = [UsageError, ProbeInputError, StackFileError, StackConfigError, CredentialError].some((k) => error instanceof k);
    if (!known) throw error;
    console.error(`probe: ${(error as Error).message}${error instanceof UsageError ? `\n${USAGE}` : ""}`);
    return 2;
  }

  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  log(
    `Probing ${target.host} over ${target.transports.join(", ")}` +
      `${target.expectedRelayIp ? `, expecting relayed addresses on ${target.expectedRelayIp}` : ""} …`,
  );
  const results = await runProbe(target, (r) => log(`  ${r.ok ? "pass" : "FAIL"}  ${r.check} (${r.transport})`));
  const failed = results.filter((r) => !r.ok).length;
  if (flags.json) {
    console.log(JSON.stringify({ host: target.host, ok: failed === 0, results }, null, 2));
  } else {
    printTable(
      ["check", "transport", "result", "detail"],
      results.map((r) => [r.check, r.transport, r.ok ? "pass" : "FAIL", r.detail]),
    );
    console.log(failed === 0 ? `\nAll ${results.length} checks passed.` : `\n${failed} of ${results.length} checks FAILED.`);
  }
  return failed === 0 ? 0 : 1;
}

runMain(main);
