/**
 * A real browser call through the production coturn config, across two different symmetric NATs.
 *
 * The cloud lab (coturn with the example stack's rendered turnserver.conf behind a 1:1 NAT edge, public IP 11.0.0.10)
 * gets two home networks: Alice's browser at 192.168.1.10 behind NAT A (public 11.0.0.41) and Bob's browser at
 * 192.168.2.10 behind NAT B (public 11.0.0.42). Both NATs masquerade with fully random ports (address- and
 * port-dependent mapping, the "symmetric NAT" of RFC 3489) and drop unsolicited inbound traffic, so hole punching
 * cannot work and only a relay can connect the two. Each browser is a headless Chromium running inside its own
 * namespace; the test process drives both over Playwright's pipe and does the signalling (non-trickle: offer and
 * answer are exchanged once ICE gathering completes).
 *
 * - For TURN over UDP, TCP and TLS (each alone, relay-only policy, credentials minted from the lab's secret) the
 *   peers connect, exchange data-channel messages both ways, and the selected candidate pair is relay↔relay on the
 *   server's public IP with the expected relay protocol.
 * - Control: with only STUN the browsers gather server-reflexive candidates on their NATs' addresses (so the lab
 *   works), send connectivity checks to each other's reflexive address, and each NAT drops the other's checks for
 *   want of a mapping (counted by an nft counter): they never connect, so the relay is what makes the call work.
 * - The apps' view: each page loads the browser module (`coturn-pulumi/browser`, bundled by esbuild) from an app
 *   origin, fetches its credentials from the example `/ice-servers` endpoint running on a lab host (cross-origin,
 *   bearer token, CORS), and posts its call's outcome to `/ice-report`; the endpoint's `/metrics` (its loopback
 *   listener, read inside the lab host) then counts exactly 2 relayed successes per transport and the control's 2
 *   failures with reason no-relay-candidate.
 *
 * Needs root (network namespaces), coturn, nftables and /usr/bin/chromium; run with
 * `node --import tsx --test test/browser.test.ts`.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildSync } from "esbuild";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { spkiSha256 } from "../src/local/selfSigned";
import { CLOUD_LAB, LAB_SECRET, startCloudLab, type CloudLab } from "../lab/cloudLab";
import { nftCounters } from "../lab/boot/opsChecks";
import { RATE_LIMIT_NAMES, RATE_LIMIT_TABLE } from "../src/render/rateLimitFiles";
import { LAB_INTERNET, requireCommands, waitFor, type LabProcess } from "../lab/netlab";

const ROOT = join(__dirname, "..");

/** The example endpoint on a lab host of its own: what the pages fetch credentials from and report to. */
const APP_HOST = { name: "app", ip: `${LAB_INTERNET.prefix}.50`, port: 8080, metricsPort: 9464 } as const;
const ICE_SERVERS_URL = `http://${APP_HOST.ip}:${APP_HOST.port}/ice-servers`;
/** The web app's origin: the pages are served from it (by Playwright's router), so the endpoint is cross-origin. */
const APP_ORIGIN = "http://app.localhost:8000";
/** The DEMO bearer token the endpoint accepts, fresh per run. */
const DEMO_TOKEN = `demo-token-${randomBytes(12).toString("hex")}`;

/** The browser module as an app's bundler would ship it: one script that defines `window.coturnBrowser`. */
function browserModuleBundle(): string {
  const result = buildSync({
    entryPoints: [join(ROOT, "src", "browser", "index.ts")],
    bundle: true,
    format: "iife",
    globalName: "coturnBrowser",
    platform: "browser",
    target: "chrome110",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

/** The browser binary (Debian's chromium package). */
const CHROMIUM = "/usr/bin/chromium";

/** Flags that keep Chromium quiet on the closed lab network and runnable as root in a namespace. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** How long a browser may take to finish ICE gathering (TURN allocations over TLS included). */
const GATHER_MS = 10_000;
/** How long a relayed call may take to connect and open its data channel. */
const CONNECT_MS = 15_000;
/** How long the STUN-only control is given to (not) connect. */
const CONTROL_MS = 10_000;

/** One home network: a browser host behind its own NAT router. */
interface Home {
  /** Who sits there (also the namespace suffix of the browser host). */
  readonly name: "alice" | "bob";
  /** Namespace suffix of the NAT router. */
  readonly nat: string;
  /** The NAT's address on the lab internet: what the TURN server and the other side see. */
  readonly publicIp: string;
  /** The LAN's first three octets (router .1, browser .10). */
  readonly lan: string;
}

const HOMES: readonly [Home, Home] = [
  { name: "alice", nat: "nata", publicIp: "11.0.0.41", lan: "192.168.1" },
  { name: "bob", nat: "natb", publicIp: "11.0.0.42", lan: "192.168.2" },
];

/**
 * A symmetric NAT: masquerade with a fully random source port per connection (so a mapping made towards the STUN
 * server is useless towards the other peer), and a stateful forward filter that only lets replies back in. UDP from
 * the lab internet that matches no mapping ends at the router itself, where the counter `unmapped` tallies it and it
 * is dropped silently, as home routers do.
 */
function symmetricNat(lan: string): string {
  return `table ip home {
  counter unmapped {}
  chain postrouting { type nat hook postrouting priority srcnat; oifname "eth0" ip saddr ${lan}.0/24 masquerade random,fully-random; }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "eth1" oifname "eth0" accept
  }
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "eth0" meta l4proto udp ip saddr != ${CLOUD_LAB.publicIp} counter name "unmapped" drop
  }
}
`;
}

/**
 * The page-side half of the test, plain JavaScript evaluated in the browser (the project's TypeScript has no DOM
 * types). It keeps one RTCPeerConnection and records everything a failure message needs.
 */
const PAGE_SCRIPT = String.raw`
window.lab = (() => {
  let pc = null;
  let channel = null;
  let record = null;
  let watched = null;
  const log = (text) => console.log("[lab] " + text);
  // Polls ready() every 20 ms; rejects after timeoutMs with what() (evaluated then, so it shows the latest state).
  const until = (what, ready, timeoutMs) => new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (ready()) return resolve();
      if (Date.now() >= deadline) return reject(new Error("timed out after " + timeoutMs + " ms waiting for " + what()));
      setTimeout(poll, 20);
    };
    poll();
  });
  const wire = (ch) => {
    channel = ch;
    record.channelStates.push(ch.readyState);
    ch.onopen = () => { record.channelStates.push("open"); log("data channel open"); };
    ch.onclose = () => record.channelStates.push("closed");
    ch.onerror = (e) => record.errors.push("data channel error: " + (e.error ? e.error.message : "unknown"));
    ch.onmessage = (e) => { record.messages.push(String(e.data)); };
  };
  const gathered = (timeoutMs) => until(
    () => "ICE gathering to complete (candidates so far: " + JSON.stringify(record.candidates) +
      ", errors: " + JSON.stringify(record.candidateErrors) + ")",
    () => pc.iceGatheringState === "complete",
    timeoutMs,
  );
  const candidateStats = (s) => s && ({
    candidateType: s.candidateType, address: s.address ?? s.ip ?? null, port: s.port ?? null,
    protocol: s.protocol ?? null, relayProtocol: s.relayProtocol ?? null, url: s.url ?? null,
  });
  return {
    create(config, offerer, watchMs) {
      if (pc) pc.close();
      record = { iceStates: [], connectionStates: [], gatheringStates: [], candidates: [], candidateErrors: [], channelStates: [], messages: [], errors: [] };
      pc = new RTCPeerConnection(config);
      // The browser module watches the call from its start, as an app would (before any description is set).
      watched = window.coturnBrowser.watchConnection(pc, { timeoutMs: watchMs });
      pc.oniceconnectionstatechange = () => { record.iceStates.push(pc.iceConnectionState); log("ice " + pc.iceConnectionState); };
      pc.onconnectionstatechange = () => record.connectionStates.push(pc.connectionState);
      pc.onicegatheringstatechange = () => record.gatheringStates.push(pc.iceGatheringState);
      pc.onicecandidate = (e) => {
        if (!e.candidate || !e.candidate.candidate) return;
        const c = e.candidate;
        record.candidates.push({ type: c.type, address: c.address, port: c.port, protocol: c.protocol, relayProtocol: c.relayProtocol ?? null, url: c.url ?? null });
      };
      pc.onicecandidateerror = (e) => {
        record.candidateErrors.push({ url: e.url, errorCode: e.errorCode, errorText: e.errorText, address: e.address ?? null });
        log("candidate error " + e.errorCode + " " + e.errorText + " for " + e.url);
      };
      if (offerer) wire(pc.createDataChannel("lab", { ordered: true }));
      else pc.ondatachannel = (e) => wire(e.channel);
    },
    async offer(timeoutMs) {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(timeoutMs);
      return pc.localDescription.sdp;
    },
    async answer(sdp, timeoutMs) {
      await pc.setRemoteDescription({ type: "offer", sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(timeoutMs);
      return pc.localDescription.sdp;
    },
    async accept(sdp) {
      await pc.setRemoteDescription({ type: "answer", sdp });
    },
    async waitOpen(timeoutMs) {
      await until(
        () => "the data channel to open (ICE " + record.iceStates.join(" > ") + ", channel " + (channel ? channel.readyState : "none") + ")",
        () => channel !== null && channel.readyState === "open",
        timeoutMs,
      );
    },
    async waitIce(timeoutMs) {
      try {
        await until(() => "ICE to settle", () => ["connected", "completed", "failed"].includes(pc.iceConnectionState), timeoutMs);
      } catch { /* still checking: the caller judges */ }
      return pc.iceConnectionState;
    },
    send(text) { channel.send(text); },
    // Credentials as an app gets them: the module's client, the app's bearer token, a cross-origin GET.
    async fetchIceServers(url, token) {
      const client = new window.coturnBrowser.IceClient({ iceServersUrl: url, headers: () => ({ authorization: "Bearer " + token }) });
      try { return await client.iceServers(); } finally { client.close(); }
    },
    // The call's outcome as the module read it, posted to /ice-report beside the endpoint.
    async postOutcome(url, token) {
      const errors = [];
      const client = new window.coturnBrowser.IceClient({ iceServersUrl: url, headers: () => ({ authorization: "Bearer " + token }), onError: (e) => errors.push(e.message) });
      const report = await watched;
      const posted = report ? await client.report(report) : false;
      client.close();
      return { report: report ?? null, posted, errors };
    },
    async waitMessages(count, timeoutMs) {
      await until(() => count + " messages (got " + record.messages.length + ")", () => record.messages.length >= count, timeoutMs);
      return record.messages.slice();
    },
    async selectedPair() {
      const stats = await pc.getStats();
      let transport = null;
      stats.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) transport = s; });
      if (!transport) return null;
      const pair = stats.get(transport.selectedCandidatePairId);
      if (!pair) return null;
      return {
        state: pair.state, nominated: pair.nominated === true,
        bytesSent: pair.bytesSent ?? 0, bytesReceived: pair.bytesReceived ?? 0,
        local: candidateStats(stats.get(pair.localCandidateId)),
        remote: candidateStats(stats.get(pair.remoteCandidateId)),
      };
    },
    async pairs() {
      const stats = await pc.getStats();
      const out = [];
      stats.forEach((s) => {
        if (s.type !== "candidate-pair") return;
        out.push({
          state: s.state, nominated: s.nominated === true,
          requestsSent: s.requestsSent ?? 0, responsesReceived: s.responsesReceived ?? 0,
          local: candidateStats(stats.get(s.localCandidateId)), remote: candidateStats(stats.get(s.remoteCandidateId)),
        });
      });
      return out;
    },
    report() {
      if (!record) return null;
      if (!pc) return record.final;
      return { ...record, ice: pc.iceConnectionState, connection: pc.connectionState, gathering: pc.iceGatheringState, channel: channel ? channel.readyState : null };
    },
    close() {
      if (pc) record.final = this.report();
      if (channel) channel.close();
      if (pc) pc.close();
      pc = null; channel = null;
    },
  };
})();
`;

/** A candidate as the page saw it gathered (RTCIceCandidate fields). */
interface GatheredCandidate {
  readonly type: string | null;
  readonly address: string | null;
  readonly port: number | null;
  readonly protocol: string | null;
  readonly relayProtocol: string | null;
  readonly url: string | null;
}

/** A local-candidate or remote-candidate stats entry. */
interface CandidateStats {
  readonly candidateType: string;
  readonly address: string | null;
  readonly port: number | null;
  readonly protocol: string | null;
  readonly relayProtocol: string | null;
  readonly url: string | null;
}

/** A candidate-pair stats entry with its two candidates. */
interface PairStats {
  readonly state: string;
  readonly nominated: boolean;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  readonly requestsSent?: number;
  readonly responsesReceived?: number;
  readonly local: CandidateStats | null;
  readonly remote: CandidateStats | null;
}

/** What the page recorded about its current connection. */
interface PageReport {
  readonly iceStates: string[];
  readonly connectionStates: string[];
  readonly candidates: GatheredCandidate[];
  readonly candidateErrors: Array<{ url: string; errorCode: number; errorText: string }>;
  readonly channelStates: string[];
  readonly messages: string[];
  readonly errors: string[];
  readonly ice: string;
  readonly connection: string;
  readonly channel: string | null;
}

/** What a page's postOutcome returns. */
interface PostedOutcome {
  readonly report: { outcome: string; localCandidateType?: string; remoteCandidateType?: string; protocol?: string; rttSeconds?: number; reason?: string } | null;
  readonly posted: boolean;
  readonly errors: string[];
}

/** Every outcome the pages posted, in order. */
const posted: PostedOutcome[] = [];

/** A browser running in one home network. */
interface LabBrowser {
  readonly home: Home;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Browser console and page errors, newest last. */
  readonly console: string[];
}

/** Rejects after `ms` with a message naming `what`; a safety net around calls into the browser. */
function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Calls `window.lab[method](...args)` in the page (args go through JSON) with an outer time limit. */
async function call<T>(browser: LabBrowser, method: string, args: readonly unknown[] = [], ms = 20_000): Promise<T> {
  const expression = `window.lab.${method}(...${JSON.stringify(args)})`;
  const result: unknown = await within(`${browser.home.name}: lab.${method}`, ms, browser.page.evaluate(expression));
  return result as T;
}

let cloud: CloudLab | undefined;
let endpoint: LabProcess | undefined;
const browsers: LabBrowser[] = [];
const scratchDirs: string[] = [];

/** Builds one home network (NAT router + browser host) on the lab and starts Chromium inside it. */
async function startHome(lab: CloudLab, home: Home, pin: string, bundle: string): Promise<LabBrowser> {
  const { lab: net } = lab;
  const router = net.addHost(home.nat);
  const host = net.addHost(home.name);
  net.attachToInternet(router, "eth0", home.publicIp);
  net.link(router, "eth1", `${home.lan}.1`, host, "eth0", `${home.lan}.10`);
  net.ip(host, "route", "add", "default", "via", `${home.lan}.1`);
  net.router(router, symmetricNat(home.lan));

  const dir = mkdtempSync(join(tmpdir(), `browser-${home.name}-`));
  scratchDirs.push(dir);
  // Playwright talks to the browser over inherited pipes, so `ip netns exec` is all it takes to put it in the host.
  const wrapper = join(dir, "chromium-in-netns");
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${host} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: wrapper,
    headless: true,
    timeout: 30_000,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${pin}`],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const browser: LabBrowser = { home, context, page, console: [] };
  browsers.push(browser);
  page.on("console", (message) => browser.console.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => browser.console.push(`pageerror: ${error.message}`));
  // The page comes from the app's origin (served by Playwright, not the network) with the module and the test's script.
  const html = `<!doctype html><title>${home.name}</title><script>${bundle}</script><script>${PAGE_SCRIPT}</script>`;
  await page.route(`${APP_ORIGIN}/**`, (route) => route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }));
  await page.goto(`${APP_ORIGIN}/call`);
  return browser;
}

/** Everything a failure needs: coturn's log tail, each browser's recorded state and console. */
async function diagnostics(): Promise<string> {
  const parts: string[] = [];
  for (const browser of browsers) {
    let report = "";
    try {
      report = JSON.stringify(await call<PageReport | null>(browser, "report", [], 3_000), null, 1);
    } catch (error) {
      report = `(no report: ${String(error)})`;
    }
    parts.push(`--- ${browser.home.name}: page state\n${report}`);
    parts.push(`--- ${browser.home.name}: console (last 30)\n${browser.console.slice(-30).join("\n")}`);
  }
  const log = cloud?.log() ?? "";
  parts.push(`--- coturn log (last 60 lines)\n${log.split("\n").slice(-60).join("\n")}`);
  return parts.join("\n");
}

/**
 * Runs one call's test body: on failure the error message gets the diagnostics (taken while the call is still up),
 * and the call is closed in every case so the next test starts clean.
 */
async function inCall(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    const details = await diagnostics();
    if (error instanceof Error) {
      error.message = `${error.message}\n${details}`;
      throw error;
    }
    throw new Error(`${String(error)}\n${details}`);
  } finally {
    await Promise.all(browsers.map((b) => call(b, "close", [], 5_000).catch(() => undefined)));
  }
}

/** Non-trickle signalling through the test process: offer from Alice, answer from Bob, both fully gathered. */
async function connect(alice: LabBrowser, bob: LabBrowser, config: object, watchMs: number): Promise<{ offer: string; answer: string }> {
  await call(alice, "create", [config, true, watchMs]);
  await call(bob, "create", [config, false, watchMs]);
  const offer = await call<string>(alice, "offer", [GATHER_MS]);
  const answer = await call<string>(bob, "answer", [offer, GATHER_MS]);
  await call(alice, "accept", [answer]);
  return { offer, answer };
}

/** `text` as a literal inside a RegExp. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The `a=candidate` lines of an SDP. */
function candidateLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.startsWith("a=candidate:"));
}

/** Sockets of coturn's namespace as `ss <args>` lists them. */
function coturnSockets(...args: string[]): string {
  assert.ok(cloud, "no lab");
  return cloud.lab.exec(cloud.hosts.turn, "ss", ...args);
}

/** Packets from the other home's NAT that reached this NAT's own address, matching no mapping (see symmetricNat). */
function unmappedPackets(home: Home): number {
  assert.ok(cloud, "no lab");
  const listing = cloud.lab.exec(cloud.lab.ns(home.nat), "nft", "list", "counter", "ip", "home", "unmapped");
  const packets = /packets (\d+)/.exec(listing);
  assert.ok(packets, `cannot read the unmapped counter of ${home.nat}: ${listing}`);
  return Number(packets[1]);
}

/**
 * The selected candidate pair once Chrome reports it "succeeded". Chrome marks a pair "in-progress" again while each
 * keepalive/consent check is outstanding, even the nominated pair that carries the data, so one getStats() can catch
 * a healthy pair mid-check: poll for up to 3 s and return the last pair seen.
 */
async function settledPair(browser: LabBrowser): Promise<PairStats | null> {
  const deadline = Date.now() + 3_000;
  let pair = await call<PairStats | null>(browser, "selectedPair");
  while (pair?.state !== "succeeded" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    pair = await call<PairStats | null>(browser, "selectedPair");
  }
  return pair;
}

/** Both browsers, or a failure that points at the setup. */
function bothBrowsers(): [LabBrowser, LabBrowser] {
  const [alice, bob] = browsers;
  assert.ok(alice && bob, "the browsers did not start (see the before hook's error)");
  return [alice, bob];
}

describe("browser call through the production coturn across two symmetric NATs", { timeout: 120_000 }, () => {
  before(
    async () => {
      requireCommands([[CHROMIUM, "chromium"], ["/usr/bin/curl", "curl"]]);
      cloud = await startCloudLab({ tag: `br${process.pid}` });
      const pin = spkiSha256(readFileSync(cloud.certificatePath, "utf8"));
      // The example endpoint on a lab host of its own, with the lab's secret; its metrics listener on the host's
      // loopback (the default), which only a process inside that host can read.
      const app = cloud.lab.addHost(APP_HOST.name);
      cloud.lab.attachToInternet(app, "eth0", APP_HOST.ip);
      const started = cloud.lab.start(app, process.execPath, ["--import", "tsx", join(ROOT, "examples", "ice-servers-endpoint.ts")], {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        TURN_AUTH_SECRET: LAB_SECRET,
        TURN_URLS: transports.map((t) => t.url).join(","),
        ALLOWED_ORIGIN: APP_ORIGIN,
        DEMO_BEARER_TOKEN: DEMO_TOKEN,
        HOST: APP_HOST.ip,
        PORT: String(APP_HOST.port),
        METRICS_PORT: String(APP_HOST.metricsPort),
      });
      endpoint = started;
      await waitFor("the endpoint's metrics listening line", () => /metrics listening on http:\/\/127\.0\.0\.1:/.test(started.output()) || started.child.exitCode !== null, 20_000);
      assert.equal(started.child.exitCode, null, `the endpoint exited: ${started.output()}`);
      const bundle = browserModuleBundle();
      for (const home of HOMES) await startHome(cloud, home, pin, bundle);
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      await Promise.all(browsers.map((b) => within(`closing ${b.home.name}'s browser`, 10_000, b.context.close()).catch(() => undefined)));
      await cloud?.destroy();
      for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
    },
    { timeout: 30_000 },
  );

  const transports = [
    { url: `turn:${CLOUD_LAB.publicIp}:3478?transport=udp`, relayProtocol: "udp", port: 3478 },
    { url: `turn:${CLOUD_LAB.publicIp}:3478?transport=tcp`, relayProtocol: "tcp", port: 3478 },
    { url: `turns:${CLOUD_LAB.publicIp}:5349?transport=tcp`, relayProtocol: "tls", port: 5349 },
  ] as const;

  for (const { url, relayProtocol, port } of transports) {
    test(`relayed call over ${url}`, { timeout: 45_000 }, async (t) => {
      const [alice, bob] = bothBrowsers();
      await inCall(async () => {
        // Credentials as the app gets them: from the endpoint, through the module, cross-origin with the bearer token.
        const servers = await call<Array<{ urls: string[]; username: string; credential: string }>>(alice, "fetchIceServers", [ICE_SERVERS_URL, DEMO_TOKEN]);
        assert.equal(servers.length, 1, JSON.stringify(servers));
        assert.deepEqual(servers[0].urls, transports.map((t) => t.url));
        assert.match(servers[0].username, /^\d+:demo-user$/);
        const config = {
          iceServers: [{ urls: url, username: servers[0].username, credential: servers[0].credential }],
          iceTransportPolicy: "relay",
        };
        const started = Date.now();
        const { offer, answer } = await connect(alice, bob, config, CONNECT_MS);
        const publicIp = new RegExp(` ${escapeRegExp(CLOUD_LAB.publicIp)} \\d+ typ relay `);
        for (const [who, sdp] of [["offer", offer], ["answer", answer]] as const) {
          const lines = candidateLines(sdp);
          assert.ok(lines.length > 0, `the ${who} has no candidates: the TURN allocation over ${relayProtocol} failed`);
          for (const line of lines) assert.match(line, publicIp, `${who}: not a relay candidate on the public IP: ${line}`);
        }

        await Promise.all([call(alice, "waitOpen", [CONNECT_MS]), call(bob, "waitOpen", [CONNECT_MS])]);
        t.diagnostic(`${relayProtocol}: data channel open ${Date.now() - started} ms after the offer was started`);

        // Both directions, a short message and a large one that spans many packets, compared exactly.
        const tag = randomBytes(6).toString("hex");
        const toBob = [`hello bob, alice here over ${relayProtocol} ${tag}`, randomBytes(24 * 1024).toString("base64")];
        const toAlice = [`hi alice, bob answering over ${relayProtocol} ${tag}`, randomBytes(24 * 1024).toString("hex")];
        for (const text of toBob) await call(alice, "send", [text]);
        for (const text of toAlice) await call(bob, "send", [text]);
        assert.deepEqual(await call<string[]>(bob, "waitMessages", [toBob.length, 5_000]), toBob, "Bob received something else");
        assert.deepEqual(await call<string[]>(alice, "waitMessages", [toAlice.length, 5_000]), toAlice, "Alice received something else");

        const relayPorts: number[] = [];
        for (const browser of [alice, bob]) {
          const pair = await settledPair(browser);
          const who = browser.home.name;
          const shown = JSON.stringify(pair);
          assert.ok(pair, `${who}: getStats() shows no selected candidate pair`);
          assert.equal(pair.state, "succeeded", `${who}: selected pair not succeeded: ${shown}`);
          assert.equal(pair.nominated, true, `${who}: selected pair not nominated: ${shown}`);
          assert.equal(pair.local?.candidateType, "relay", `${who}: local candidate is not relay: ${shown}`);
          assert.equal(pair.local?.address, CLOUD_LAB.publicIp, `${who}: local relay address: ${shown}`);
          assert.equal(pair.local?.relayProtocol, relayProtocol, `${who}: local relayProtocol: ${shown}`);
          assert.equal(pair.remote?.candidateType, "relay", `${who}: remote candidate is not relay: ${shown}`);
          assert.equal(pair.remote?.address, CLOUD_LAB.publicIp, `${who}: remote relay address: ${shown}`);
          assert.ok((pair.bytesReceived ?? 0) > 24 * 1024, `${who}: the selected pair carried only ${pair.bytesReceived} bytes: ${shown}`);
          relayPorts.push(pair.local?.port ?? 0);
        }

        // coturn holds each relay on the production relay range, on the same port the 1:1 NAT edge publishes.
        const udpSockets = coturnSockets("-Huan");
        for (const [index, relayPort] of relayPorts.entries()) {
          assert.ok(relayPort >= 49152 && relayPort <= 65535, `${HOMES[index].name}'s relay port ${relayPort} is outside min-port..max-port`);
          assert.ok(udpSockets.includes(`${CLOUD_LAB.privateIp}:${relayPort} `), `coturn has no relay socket on port ${relayPort}:\n${udpSockets}`);
        }
        // Over TCP and TLS the browsers' connections reach coturn's port from their NATs' public addresses.
        if (relayProtocol !== "udp") {
          const tcp = coturnSockets("-Htn", "state", "established");
          for (const home of HOMES) {
            const connection = new RegExp(`${escapeRegExp(`${CLOUD_LAB.privateIp}:${port}`)}\\s+${escapeRegExp(home.publicIp)}:\\d+`);
            assert.match(tcp, connection, `no ${relayProtocol} connection from ${home.publicIp} to port ${port}:\n${tcp}`);
          }
        }

        // Each page reports what the module saw: a relayed pair over this transport.
        for (const browser of [alice, bob]) {
          const outcome = await call<PostedOutcome>(browser, "postOutcome", [ICE_SERVERS_URL, DEMO_TOKEN]);
          t.diagnostic(`${browser.home.name} reported ${JSON.stringify(outcome.report)}`);
          assert.equal(outcome.posted, true, `${browser.home.name}: the report was not accepted: ${JSON.stringify(outcome)}`);
          assert.equal(outcome.report?.outcome, "connected", JSON.stringify(outcome));
          assert.equal(outcome.report?.localCandidateType, "relay", JSON.stringify(outcome));
          assert.equal(outcome.report?.remoteCandidateType, "relay", JSON.stringify(outcome));
          assert.equal(outcome.report?.protocol, relayProtocol, JSON.stringify(outcome));
          posted.push(outcome);
        }
      });
    });
  }

  test("control: STUN only, the same two browsers cannot connect", { timeout: 45_000 }, async (t) => {
    const [alice, bob] = bothBrowsers();
    await inCall(async () => {
      const unmappedBefore = HOMES.map((home) => unmappedPackets(home));
      await connect(alice, bob, { iceServers: [{ urls: `stun:${CLOUD_LAB.publicIp}:3478` }], iceTransportPolicy: "all" }, CONTROL_MS);
      const states = await Promise.all([call<string>(alice, "waitIce", [CONTROL_MS]), call<string>(bob, "waitIce", [CONTROL_MS])]);
      t.diagnostic(`ICE after ${CONTROL_MS} ms at most: alice ${states[0]}, bob ${states[1]}`);
      for (const [index, browser] of [alice, bob].entries()) {
        const who = browser.home.name;
        const report = await call<PageReport>(browser, "report");
        const srflx = report.candidates.filter((c) => c.type === "srflx");
        assert.ok(srflx.length > 0, `${who} gathered no server-reflexive candidate: the lab is broken, not NAT traversal`);
        for (const c of srflx) assert.equal(c.address, browser.home.publicIp, `${who}'s srflx candidate is not its NAT's address`);
        assert.ok(!["connected", "completed"].includes(states[index]), `${who} connected without TURN (ICE ${states[index]})`);
        assert.ok(
          !report.iceStates.includes("connected") && !report.iceStates.includes("completed"),
          `${who} was connected at some point without TURN: ${report.iceStates.join(" → ")}`,
        );
        assert.notEqual(report.channel, "open", `${who}'s data channel opened without TURN`);
        // Checks really went to the other side's reflexive address, and none succeeded.
        const pairs = await call<PairStats[]>(browser, "pairs");
        const other = HOMES[1 - index].publicIp;
        const shown = JSON.stringify(pairs);
        assert.ok(pairs.some((p) => p.remote?.address === other && (p.requestsSent ?? 0) > 0), `${who} sent no check to ${other}: ${shown}`);
        assert.ok(pairs.every((p) => p.state !== "succeeded"), `${who} has a succeeded candidate pair: ${shown}`);
        t.diagnostic(`${who}: ${report.iceStates.join(" → ")}; pairs ${shown}`);
      }
      // The reason: the other side's checks reached each NAT's public address but matched no mapping (the mapping
      // was made towards the STUN server, with a random port), so the NAT dropped them.
      for (const [index, home] of HOMES.entries()) {
        const dropped = unmappedPackets(home) - unmappedBefore[index];
        t.diagnostic(`${home.name}'s NAT dropped ${dropped} UDP packets that matched no mapping`);
        assert.ok(dropped > 0, `${home.name}'s NAT received no unmapped packet: the other side's checks never got there`);
      }
      // The module calls it what it is: no relay candidate, so nothing could cross the NATs.
      for (const browser of [alice, bob]) {
        const outcome = await call<PostedOutcome>(browser, "postOutcome", [ICE_SERVERS_URL, DEMO_TOKEN]);
        t.diagnostic(`${browser.home.name} reported ${JSON.stringify(outcome.report)}`);
        assert.equal(outcome.posted, true, `${browser.home.name}: the report was not accepted: ${JSON.stringify(outcome)}`);
        assert.deepEqual(outcome.report, { outcome: "failed", reason: "no-relay-candidate" });
        posted.push(outcome);
      }
    });
  });

  test("the endpoint's metrics count exactly those reports: 2 relayed successes per transport, 2 control failures", (t) => {
    assert.ok(cloud && endpoint, "no lab");
    assert.equal(posted.length, 8, `8 reports expected (2 per relayed call, 2 from the control), ${posted.length} posted`);
    // Read where a scraper on that host would: its loopback, inside the lab host.
    const text = cloud.lab.exec(cloud.lab.ns(APP_HOST.name), "curl", "-sS", "--fail", "--max-time", "5", `http://127.0.0.1:${APP_HOST.metricsPort}/metrics`);
    const value = (series: string): number | undefined => {
      const line = text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const reports = text.split("\n").filter((l) => l.startsWith("webrtc_call_reports_total{"));
    t.diagnostic(reports.join("; "));
    assert.deepEqual(reports.sort(), [
      'webrtc_call_reports_total{outcome="connected",relayed="true",protocol="tcp"} 2',
      'webrtc_call_reports_total{outcome="connected",relayed="true",protocol="tls"} 2',
      'webrtc_call_reports_total{outcome="connected",relayed="true",protocol="udp"} 2',
      'webrtc_call_reports_total{outcome="failed",relayed="false",protocol="none"} 2',
    ]);
    for (const reason of ["turn-401", "tls-failure", "timeout", "ice-failed"]) assert.equal(value(`webrtc_call_failures_total{reason="${reason}"}`), 0, reason);
    assert.equal(value('webrtc_call_failures_total{reason="no-relay-candidate"}'), 2);
    const measured = posted.filter((p) => p.report?.outcome === "connected" && p.report.rttSeconds !== undefined);
    assert.equal(value("webrtc_call_rtt_seconds_count"), measured.length);
    assert.equal(measured.length, 6, "every relayed report carried its RTT");
    for (const status of ["400", "413", "415", "429"]) assert.equal(value(`webrtc_call_reports_refused_total{status="${status}"}`), 0, status);
    assert.ok(!text.includes("demo-user") && !text.includes(DEMO_TOKEN), "a user id or token in the metrics");
    // The endpoint logged one line per report, with the outcome and nothing else of it.
    const lines = endpoint.output().split("\n").filter((l) => / POST "\/ice-report" /.test(l));
    assert.equal(lines.filter((l) => / 204 user="demo-user" origin="http:\/\/app\.localhost:8000" [\d.]+ms \(outcome=connected\)$/.test(l)).length, 6, lines.join("\n"));
    assert.equal(lines.filter((l) => / 204 user="demo-user" .*\(outcome=failed reason=no-relay-candidate\)$/.test(l)).length, 2, lines.join("\n"));
    assert.equal(lines.length, 8, lines.join("\n"));
  });

  test("the per-source limits were loaded and dropped nothing of these browser calls (behind NAT, each within its limits)", () => {
    assert.ok(cloud, "no lab");
    const listing = cloud.lab.exec(cloud.hosts.turn, "nft", "list", "counters", "table", "inet", RATE_LIMIT_TABLE);
    const counters = nftCounters(listing);
    assert.deepEqual(
      RATE_LIMIT_NAMES.map((name) => [name, counters.get(`${name}_dropped`)?.packets]),
      RATE_LIMIT_NAMES.map((name) => [name, 0]),
    );
  });
});
