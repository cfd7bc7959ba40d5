/**
 * What the boot harness asks a running VM and its network, each answer a row of the boot report (see checks.ts): the
 * sockets and the cloud's network step inside the guest, the open-files limit, the secret delivery over SSH as
 * `pulumi up` makes it, a TURN round trip and a refusal from the lab's client, and coturn's restarts after signals.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { LISTENER_PORTS, type Listener } from "../../src/config/schema";
import type { ServerConfig } from "../../src/config/stackConfig";
import { mintTurnCredential, secretFingerprint } from "../../src/credentials/turnRest";
import { bindAddressFor } from "../../src/plan/addresses";
import { DEPLOY_USER, parseAppliedSecretSet, secretSetDocument } from "../../src/render/deployChannel";
import { runLabJobAsync } from "../cloudLab";
import type { BootLab } from "./bootLab";
import { openFilesCheck, openFilesLimit, rowFrom, type CheckResult } from "./checks";
import type { BootedGuest } from "./guest";

/** The echo peer's UDP port on the peer host. */
export const ECHO_PORT = 3480;
/** Longest wait for coturn to come back after a signal (RestartSec is 2 s). */
const RESTART_TIMEOUT_MS = 20_000;

/** A file's content inside the guest (empty when it cannot be read). */
export function guestFile(container: BootedGuest, path: string): string {
  return container.run("cat", [path]).stdout;
}

/** coturn's open-files limit, from its /proc/PID/limits, against the drop-in's LimitNOFILE and this host's cap. */
export function openFilesRow(container: BootedGuest, dropIn: string): CheckResult {
  const unitLimit = Number(/^LimitNOFILE=(\d+)$/m.exec(dropIn)?.[1]);
  const pid = container.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
  const hostHard = openFilesLimit(readFileSync("/proc/self/limits", "utf8"))?.hard ?? Infinity;
  return openFilesCheck(unitLimit, container.run("cat", [`/proc/${pid}/limits`]).stdout, hostHard);
}

/** The sockets coturn must listen on, and the cloud's network step (DigitalOcean's anchor routing, the 443 redirect). */
export function networkRows(container: BootedGuest, bootLab: BootLab, config: ServerConfig): CheckResult[] {
  const rows: CheckResult[] = [];
  const sockets = container.run("ss", ["-Hlntu"]).stdout;
  const wanted: Array<[Listener, "udp" | "tcp", number]> = [
    ["udp", "udp", LISTENER_PORTS.plain],
    ["tcp", "tcp", LISTENER_PORTS.plain],
    ["tls", "tcp", LISTENER_PORTS.tls],
    ["dtls", "udp", LISTENER_PORTS.tls],
  ];
  const listening = wanted.filter(([listener]) => config.listeners.has(listener));
  const missing = listening.filter(([, proto, port]) => !new RegExp(`^${proto}\\s.*\\s${bootLab.coturnIp.replace(/\./g, "\\.")}:${port}\\s`, "m").test(sockets));
  rows.push(
    rowFrom(
      "coturn listens on every rendered listener",
      missing.map(([listener, proto, port]) => `nothing on ${proto} ${bootLab.coturnIp}:${port} (${listener})`),
      listening.map(([listener, proto, port]) => `${listener} ${proto}/${port}`).join(", ") + ` on ${bootLab.coturnIp}`,
    ),
  );
  const addresses = container.run("ip", ["-4", "-o", "addr", "show"]).stdout;
  const routes = container.run("ip", ["-4", "route", "show", "default"]).stdout;
  const unconfigured = Object.entries(bootLab.guestInterfaces).flatMap(([name, { addresses: wantedAddresses, gateway }]) => [
    ...wantedAddresses.filter((a) => !new RegExp(`\\b${name}\\s+inet ${a.replace(/\./g, "\\.")}\\b`).test(addresses)).map((a) => `${name} lacks ${a}`),
    ...(gateway && !routes.includes(`default via ${gateway} dev ${name}`) ? [`no default route via ${gateway} on ${name}`] : []),
  ]);
  rows.push(
    rowFrom(
      "network-config applied",
      unconfigured,
      Object.entries(bootLab.guestInterfaces)
        .map(([n, i]) => `${n} ${i.addresses.join(" ")}${i.gateway ? ` via ${i.gateway}` : ""}`)
        .join("; "),
    ),
  );
  if (bindAddressFor(config.cloud).kind === "anchor") {
    const rules = container.run("ip", ["rule", "show"]).stdout;
    const table = container.run("ip", ["route", "show", "table", "4242"]).stdout;
    const conf = container.run("cat", ["/etc/turnserver.conf"]).stdout;
    const unit = container.run("systemctl", ["is-enabled", "coturn-anchor-network"]).stdout.trim();
    rows.push(
      rowFrom(
        "anchor routing (coturn-anchor-network)",
        [
          ...(new RegExp(`from ${bootLab.coturnIp} lookup 4242`).test(rules) ? [] : [`no rule sends ${bootLab.coturnIp}'s traffic to table 4242`]),
          ...(/^default via \S+/m.test(table) ? [] : ["table 4242 has no default route through the anchor gateway"]),
          ...(conf.includes(`listening-ip=${bootLab.coturnIp}\n`) ? [] : ["turnserver.conf does not listen on the anchor address"]),
          ...(unit === "enabled" ? [] : [`coturn-anchor-network is ${unit || "unknown"} at boot`]),
        ],
        `from ${bootLab.coturnIp} lookup 4242, ${table.trim()}; config filled in; enabled at boot`,
      ),
    );
  }
  if (config.listeners.has("tls-443")) {
    const ruleset = container.run("nft", ["list", "ruleset"]).stdout;
    rows.push(
      rowFrom(
        "TCP 443 redirected to the TLS listener",
        /tcp dport 443 dnat to [\d.]+:5349/.test(ruleset) ? [] : ["no nftables rule redirects TCP 443 to 5349"],
        "nftables redirect loaded",
      ),
    );
  }
  return rows;
}

/** Delivers the secret as `pulumi up` does: ssh as the deploy user with its key, host key pinned, the set on stdin. */
export async function deliverSecret(bootLab: BootLab, files: { keyFile: string; knownHostsFile: string }, secret: string): Promise<CheckResult> {
  const check = "secret delivered over SSH (pinned host key)";
  const run = await bootLab.lab.run(
    bootLab.hosts.client,
    "ssh",
    [
      "-i", files.keyFile,
      "-o", `UserKnownHostsFile=${files.knownHostsFile}`,
      "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes",
      "-o", "ConnectTimeout=10",
      `${DEPLOY_USER}@${bootLab.publicIp}`,
    ],
    { input: secretSetDocument([secret]), timeoutMs: 60_000 },
  );
  if (run.status !== 0) return { check, status: "FAIL", detail: `ssh exited ${run.status}: ${run.stderr.trim().split("\n").slice(-2).join(" ")}` };
  try {
    const applied = parseAppliedSecretSet(run.stdout);
    const wanted = secretFingerprint(secret);
    return applied.accepted.length === 1 && applied.accepted[0] === wanted
      ? { check, status: "ok", detail: `coturn-secrets accepted ${wanted} (realm ${applied.realm})` }
      : { check, status: "FAIL", detail: `coturn-secrets holds ${applied.accepted.join(", ")}, not ${wanted}` };
  } catch (error) {
    return { check, status: "FAIL", detail: (error as Error).message };
  }
}

/** A relayed round trip with credentials minted from the delivered secret, and a refusal for a wrong one. */
export async function turnRows(bootLab: BootLab, secret: string, wrongSecret: string): Promise<CheckResult[]> {
  const server = { host: bootLab.publicIp, port: LISTENER_PORTS.plain };
  const credentials = (from: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: from, user: "boot-test", ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const echo = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, {
    job: "echo",
    server,
    transport: "udp",
    credentials: credentials(secret),
    peer: { host: bootLab.peerIp, port: ECHO_PORT },
    bytes: 1000,
  });
  const relayed = echo.relayed as { host?: string } | undefined;
  const wrong = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "allocate", server, transport: "udp", credentials: credentials(wrongSecret) });
  return [
    rowFrom(
      "TURN relays to a peer and back",
      [
        ...(echo.identical === true ? [] : [`no identical echo: ${JSON.stringify(echo).slice(0, 200)}`]),
        ...(relayed?.host === bootLab.publicIp ? [] : [`relayed address ${relayed?.host}, not the static IP ${bootLab.publicIp}`]),
      ],
      `1000 bytes to ${bootLab.peerIp} and back through relay ${relayed?.host}, credentials minted from the delivered secret`,
    ),
    wrong.ok === false && wrong.code === 401
      ? { check: "a wrong secret is refused", status: "ok", detail: "401 for credentials minted from another secret" }
      : { check: "a wrong secret is refused", status: "FAIL", detail: wrong.ok ? "allocated with a wrong secret: coturn does not authenticate" : `expected 401, got ${JSON.stringify(wrong).slice(0, 160)}` },
  ];
}

/** Sends `signal` to coturn's main process and checks that systemd starts a new one that answers STUN. */
export async function restartRow(container: BootedGuest, bootLab: BootLab, signal: "HUP" | "KILL"): Promise<CheckResult> {
  const check = `coturn comes back after SIG${signal}`;
  const mainPid = (): string => container.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
  const before = mainPid();
  if (!/^[1-9]\d*$/.test(before)) return { check, status: "FAIL", detail: `coturn has no main process (MainPID ${before})` };
  const sent = Date.now();
  container.run("kill", [`-${signal}`, before]);
  const deadline = sent + RESTART_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await sleep(250);
    const now = mainPid();
    if (now === before && signal === "HUP" && Date.now() - sent > 5000) {
      // coturn without syslog handles SIGHUP by reopening its log: it never ended, so there is nothing to bring back.
      const stun = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 5000 });
      return stun.ok === true
        ? { check, status: "ok", detail: `SIGHUP did not end process ${before}; it still answers STUN` }
        : { check, status: "FAIL", detail: `process ${before} survived SIGHUP but answers no STUN: ${String(stun.error)}` };
    }
    if (now !== before && now !== "0" && container.run("systemctl", ["is-active", "coturn"]).stdout.trim() === "active") {
      const stun = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 10_000 });
      if (stun.ok !== true) return { check, status: "FAIL", detail: `restarted as ${now} but no STUN answer: ${String(stun.error)}` };
      return { check, status: "ok", detail: `new process ${now} answered STUN ${((Date.now() - sent) / 1000).toFixed(1)} s after the signal` };
    }
  }
  const state = container.run("systemctl", ["show", "coturn", "--property=ActiveState,SubState,Result"]).stdout.trim().replace(/\n/g, ", ");
  return { check, status: "FAIL", detail: `not running ${RESTART_TIMEOUT_MS / 1000} s after the signal (${state})` };
}
