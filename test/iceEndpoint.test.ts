// examples/ice-servers-endpoint.ts: the `/ice-servers` endpoint example, run as a real child process on loopback
// (HTTP behaviour, CORS, refusals of bad environment, its logs), its handler inside this process (hook failures,
// option checks), and its credentials against the lab's real coturn running the AWS example stack's production
// config; POST /ice-report (auth, refusals, rate limit) and the exact counts of its metrics, in process and over
// loopback with the separate metrics listener. The lab needs root (CI runs as root): `sudo node --import tsx --test test/iceEndpoint.test.ts`.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  DEFAULT_CHALLENGE,
  IceEndpointConfigError,
  createIceServersHandler,
  IceReportMetrics,
  type IceServersHandlerOptions,
  type IceServersResponse,
} from "../examples/ice-servers-endpoint";
import { MAX_REPORT_BYTES, TokenBuckets } from "../examples/ice-report";
import type { IceReport } from "../src/browser/report";
import { MAX_CREDENTIAL_TTL_SECONDS as MAX_TTL_SECONDS } from "../src/config/credentialLifetime";
import { verifyTurnCredential } from "../src/credentials/turnRest";
import { targetFromUrls } from "../src/probe/target";
import { CLOUD_LAB, LAB_SECRET, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import type { Outcome } from "../lab/labClient";
import type { LabProcess } from "../lab/netlab";

const ROOT = join(__dirname, "..");
const EXAMPLE = join(ROOT, "examples", "ice-servers-endpoint.ts");

/** Fresh per run, so that a hit in the output can only come from this run's values. */
const SECRET = `test-endpoint-secret-${randomBytes(18).toString("hex")}`;
const DEMO_TOKEN = `demo-token-${randomBytes(12).toString("hex")}`;
const APP_ORIGIN = "https://app.example.com";
const URLS = [
  "turn:turn.example.com:3478?transport=udp",
  "turn:turn.example.com:3478?transport=tcp",
  "turns:turn.example.com:5349?transport=tcp",
  "turns:turn.example.com:5349?transport=udp",
];
/** What browsers get: the stack's URLs without DTLS. */
const BROWSER_URLS = URLS.slice(0, 3);
const TTL = 900;

// ---------------------------------------------------------------------------------------------------------------
// Child processes: every one is tracked and stopped by its pid, with bounded waits.
// ---------------------------------------------------------------------------------------------------------------

/** A running example process. */
interface EndpointProcess {
  readonly child: ChildProcess;
  /** http://127.0.0.1:PORT/ice-servers, from its listening line. */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  stdout(): string;
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

/** The example's environment: only what is given (nothing inherited but PATH), so the machine's env cannot leak in. */
function exampleEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
  for (const [key, value] of Object.entries(env)) if (value !== undefined) result[key] = value;
  return result;
}

function spawnExample(env: Record<string, string | undefined>): Omit<EndpointProcess, "url" | "base"> {
  const child = spawn(process.execPath, ["--import", "tsx", EXAMPLE], { cwd: ROOT, env: exampleEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with `value` after `ms`, or never when `ms` is Infinity. */
function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

/** Polls until `probe` is true; throws with `what` after `timeoutMs`. */
async function until(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50, undefined);
  }
}

/** Starts the example with PORT=0 on 127.0.0.1 and resolves once it prints where it listens. */
async function startEndpoint(env: Record<string, string | undefined>): Promise<EndpointProcess> {
  const started = spawnExample({ HOST: "127.0.0.1", PORT: "0", ...env });
  const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)\/ice-servers/;
  let exited = false;
  void started.exited.then(() => (exited = true));
  await until("the endpoint's listening line", () => exited || listening.test(started.stdout()), 20_000).catch((error: Error) => {
    throw new Error(`${error.message}\nstdout: ${started.stdout()}\nstderr: ${started.stderr()}`);
  });
  const match = listening.exec(started.stdout());
  if (!match) throw new Error(`the endpoint exited before listening\nstdout: ${started.stdout()}\nstderr: ${started.stderr()}`);
  return { ...started, base: match[1], url: `${match[1]}/ice-servers` };
}

/** Stops a child by its pid: SIGTERM, SIGKILL after 5 s; resolves when it is gone. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  process.kill(child.pid, "SIGTERM");
  if ((await Promise.race([gone.then(() => "gone"), delay(5000, "late")])) === "late" && child.exitCode === null) {
    process.kill(child.pid, "SIGKILL");
    await Promise.race([gone, delay(2000, undefined)]);
  }
}

after(async () => {
  await Promise.all([...children].map(stopChild));
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP client: node:http with no connection reuse (unless an agent is given), so each request stands alone.
// ---------------------------------------------------------------------------------------------------------------

/** One answer. */
interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

function send(url: string, options: { method?: string; headers?: Record<string, string>; agent?: Agent; body?: string | Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers ?? {}, agent: options.agent ?? false, timeout: 5000 }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within 5 s`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function json<T>(answer: Answer): T {
  assert.match(String(answer.headers["content-type"]), /^application\/json; charset=utf-8$/);
  return JSON.parse(answer.text) as T;
}

/** The headers every answer carries. */
function assertBaseHeaders(answer: Answer, label: string): void {
  assert.equal(answer.headers.vary, "Origin", `${label}: Vary: Origin`);
  assert.equal(answer.headers["cache-control"], "no-store", `${label}: Cache-Control: no-store`);
  assert.equal(answer.headers["x-content-type-options"], "nosniff", `${label}: nosniff`);
}

function assertNoCors(answer: Answer, label: string): void {
  const cors = Object.keys(answer.headers).filter((name) => name.startsWith("access-control-"));
  assert.deepEqual(cors, [], `${label}: no CORS headers`);
}

/** Checks a 200 body and returns the credential; `secret` must verify it. */
function assertCredentialed(answer: Answer, secret: string, user: string, ttl: number, urls: readonly string[]): { username: string; credential: string } {
  assert.equal(answer.status, 200, answer.text);
  assertBaseHeaders(answer, "200");
  const body = json<IceServersResponse>(answer);
  assert.deepEqual(Object.keys(body).sort(), ["expiresAt", "iceServers"]);
  assert.equal(body.iceServers.length, 1);
  const [server] = body.iceServers;
  assert.deepEqual(Object.keys(server).sort(), ["credential", "urls", "username"]);
  assert.deepEqual(server.urls, urls);
  const match = /^(\d+):(.+)$/.exec(server.username);
  assert.ok(match, `username ${server.username} is <expiry>:<user>`);
  assert.equal(match[2], user);
  const expiry = Number(match[1]);
  const expected = Math.floor(Date.now() / 1000) + ttl;
  assert.ok(Math.abs(expiry - expected) <= 5, `expiry ${expiry} is about now + ${ttl} s (${expected})`);
  assert.equal(body.expiresAt, new Date(expiry * 1000).toISOString());
  assert.equal(verifyTurnCredential([secret], server.username, server.credential), true, "the credential verifies under the secret");
  assert.equal(verifyTurnCredential([`${secret}x`], server.username, server.credential), false, "control: not under another secret");
  return { username: server.username, credential: server.credential };
}

// ---------------------------------------------------------------------------------------------------------------

describe("the example endpoint as a process on loopback", () => {
  let endpoint: EndpointProcess;
  /** Requests sent to it: the log must have exactly one line for each. */
  let requests = 0;
  /** Every credential it handed out: none may show up in its output. */
  const minted: string[] = [];
  const call = async (path: string, options: Parameters<typeof send>[1] = {}): Promise<Answer> => {
    requests++;
    return send(`${endpoint.base}${path}`, options);
  };

  before(async () => {
    endpoint = await startEndpoint({
      TURN_AUTH_SECRET: SECRET,
      TURN_URLS: URLS.join(","),
      ALLOWED_ORIGIN: APP_ORIGIN,
      TURN_CREDENTIAL_TTL: String(TTL),
      DEMO_BEARER_TOKEN: DEMO_TOKEN,
    });
  });
  after(async () => {
    if (endpoint) await stopChild(endpoint.child);
  });

  test("prints where it listens, the URLs it serves (DTLS left out), the lifetime and the CORS origin", async () => {
    const line = endpoint.stdout().split("\n")[0];
    assert.match(line, /^ice-servers endpoint listening on http:\/\/127\.0\.0\.1:\d+\/ice-servers: 3 TURN URLs \(1 DTLS URL left out/);
    assert.match(line, /credentials valid 900 s, CORS for https:\/\/app\.example\.com$/);
    // stderr is its own pipe: on a loaded machine its line can arrive after stdout's.
    const demoWarning = /DEMO authentication .* replace demoBearerAuthenticate/;
    await until("the DEMO authentication warning on stderr", () => demoWarning.test(endpoint.stderr()), 10_000).catch(() => undefined);
    assert.match(endpoint.stderr(), demoWarning);
  });

  test("GET /ice-servers with the token: 200, credentials coturn will accept for the user, Cache-Control: no-store", async () => {
    const answer = await call("/ice-servers", { headers: bearer(DEMO_TOKEN) });
    minted.push(assertCredentialed(answer, SECRET, "demo-user", TTL, BROWSER_URLS).credential);
    assertNoCors(answer, "no Origin header");
    // A second call mints again (nothing cached): same user, a fresh expiry at least as late.
    const again = await call("/ice-servers", { headers: { authorization: `bearer   ${DEMO_TOKEN}` } });
    minted.push(assertCredentialed(again, SECRET, "demo-user", TTL, BROWSER_URLS).credential);
  });

  test("401 with WWW-Authenticate and a JSON error without a token, with a wrong one, with Basic or an empty bearer", async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ["no Authorization", {}],
      ["wrong token", bearer(`${DEMO_TOKEN}x`)],
      ["token prefix", bearer(DEMO_TOKEN.slice(0, -1))],
      ["Basic scheme", { authorization: `Basic ${Buffer.from(`demo:${DEMO_TOKEN}`).toString("base64")}` }],
      ["empty bearer", { authorization: "Bearer " }],
      ["token without scheme", { authorization: DEMO_TOKEN }],
    ];
    for (const [label, headers] of cases) {
      const answer = await call("/ice-servers", { headers });
      assert.equal(answer.status, 401, `${label}: ${answer.text}`);
      assert.equal(answer.headers["www-authenticate"], DEFAULT_CHALLENGE, label);
      assert.deepEqual(json(answer), { error: "authentication required" }, label);
      assertBaseHeaders(answer, label);
      assertNoCors(answer, label);
    }
  });

  test("CORS headers go to the exact allowed origin only (on 200 and on 401), Vary: Origin always", async () => {
    const allowed = await call("/ice-servers", { headers: { ...bearer(DEMO_TOKEN), origin: APP_ORIGIN } });
    minted.push(assertCredentialed(allowed, SECRET, "demo-user", TTL, BROWSER_URLS).credential);
    assert.equal(allowed.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(allowed.headers["access-control-allow-credentials"], undefined, "no credentials mode unless asked for");
    const unauthenticated = await call("/ice-servers", { headers: { origin: APP_ORIGIN } });
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.headers["access-control-allow-origin"], APP_ORIGIN, "the app's page can read the 401");
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.com", "http://app.example.com", "https://app.example.com:8443", "null", `${APP_ORIGIN}/`]) {
      const answer = await call("/ice-servers", { headers: { ...bearer(DEMO_TOKEN), origin } });
      minted.push(assertCredentialed(answer, SECRET, "demo-user", TTL, BROWSER_URLS).credential);
      assertNoCors(answer, `origin ${origin}`);
    }
  });

  test("preflight: 204 with Allow-Origin/Methods/Headers and Max-Age for the allowed origin, 403 for others", async () => {
    const preflight = (origin: string): Promise<Answer> =>
      call("/ice-servers", { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    const allowed = await preflight(APP_ORIGIN);
    assert.equal(allowed.status, 204);
    assert.equal(allowed.text, "");
    assertBaseHeaders(allowed, "preflight");
    assert.equal(allowed.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(allowed.headers["access-control-allow-methods"], "GET");
    assert.equal(allowed.headers["access-control-allow-headers"], "Authorization");
    assert.equal(allowed.headers["access-control-max-age"], "600");
    for (const origin of ["https://evil.example.com", "http://app.example.com", "null"]) {
      const refused = await preflight(origin);
      assert.equal(refused.status, 403, `origin ${origin}`);
      assert.deepEqual(json(refused), { error: "origin not allowed" });
      assertBaseHeaders(refused, `preflight from ${origin}`);
      assertNoCors(refused, `preflight from ${origin}`);
    }
    // An OPTIONS that is no preflight (no Origin) just lists the methods.
    const plain = await call("/ice-servers", { method: "OPTIONS" });
    assert.equal(plain.status, 204);
    assert.equal(plain.headers.allow, "GET, OPTIONS");
    assertNoCors(plain, "plain OPTIONS");
  });

  test("other paths get 404 whatever the method; other methods 405 with Allow", async () => {
    for (const path of ["/", "/ice-servers/", "/ice-servers.json", "/ICE-SERVERS", "/api/ice-servers", "/ice-servers/../x"]) {
      for (const method of ["GET", "POST"]) {
        const answer = await call(path, { method, headers: bearer(DEMO_TOKEN) });
        assert.equal(answer.status, 404, `${method} ${path}`);
        assert.match(json<{ error: string }>(answer).error, /^not found/);
        assertBaseHeaders(answer, `${method} ${path}`);
      }
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "HEAD"]) {
      const answer = await call("/ice-servers", { method, headers: { ...bearer(DEMO_TOKEN), origin: APP_ORIGIN } });
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, "GET, OPTIONS", method);
      assert.equal(answer.headers["access-control-allow-origin"], APP_ORIGIN, `${method}: the allowed origin can read the error`);
      assertBaseHeaders(answer, method);
      if (method !== "HEAD") assert.deepEqual(json(answer), { error: "method not allowed: use GET /ice-servers" });
    }
  });

  test("a query string is ignored and never logged (it may carry tokens)", async () => {
    const marker = `qs-${randomBytes(8).toString("hex")}`;
    const answer = await call(`/ice-servers?access_token=${marker}`, { headers: bearer(DEMO_TOKEN) });
    minted.push(assertCredentialed(answer, SECRET, "demo-user", TTL, BROWSER_URLS).credential);
    await until("its log line", () => endpoint.stdout().includes('GET "/ice-servers" 200'), 5000);
    assert.ok(!endpoint.stdout().includes(marker) && !endpoint.stderr().includes(marker), "the query string is not in the output");
  });

  test("one log line per request (method, path, status, user id), and never the secret, a credential or the token", async () => {
    const logLine = /^\d{4}-\d\d-\d\dT[\d:.]+Z (GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) "[^"]*" \d{3} user=(-|"[^"]*")( origin="[^"]*")? \d+\.\dms( \(.*\))?$/;
    const lines = (): string[] => endpoint.stdout().split("\n").filter((line) => /^\d{4}-/.test(line));
    await until(`${requests} log lines`, () => lines().length >= requests, 5000);
    assert.equal(lines().length, requests, `one line per request:\n${lines().join("\n")}`);
    for (const line of lines()) assert.match(line, logLine);
    assert.ok(lines().some((line) => / 200 user="demo-user" /.test(line)), "200s name the user");
    assert.ok(lines().some((line) => /^\S+ OPTIONS "\/ice-servers" 403 user=- origin="https:\/\/evil\.example\.com" .*\(preflight from an origin/.test(line)));
    const output = endpoint.stdout() + endpoint.stderr();
    assert.ok(minted.length >= 9, "credentials were collected");
    assert.ok(!output.includes(SECRET), "the secret is never printed");
    assert.ok(!output.includes(DEMO_TOKEN.slice(0, 20)), "the bearer token is never printed");
    for (const credential of minted) assert.ok(!output.includes(credential), "no minted credential is printed");
  });

  test("SIGTERM with an idle keep-alive connection open: stops within 3 s with exit code 0", async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const answer = await send(endpoint.url, { headers: bearer(DEMO_TOKEN), agent });
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.connection, "keep-alive");
      const started = Date.now();
      process.kill(endpoint.child.pid ?? 0, "SIGTERM");
      const result = await Promise.race([endpoint.exited, delay(3000, undefined)]);
      assert.deepEqual(result, { code: 0, signal: null }, `exit within 3 s; stdout:\n${endpoint.stdout()}\nstderr:\n${endpoint.stderr()}`);
      assert.ok(Date.now() - started < 3000);
      assert.match(endpoint.stdout(), /SIGTERM, finishing open requests\nice-servers-endpoint: stopped\n$/);
    } finally {
      agent.destroy();
    }
  });
});

describe("the example endpoint stops on SIGINT and refuses a busy port", () => {
  const env = { TURN_AUTH_SECRET: SECRET, TURN_URLS: URLS[0], DEMO_BEARER_TOKEN: DEMO_TOKEN };
  let blocker: Server | undefined;
  after(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  });

  test("SIGINT (Ctrl-C) stops it with exit code 0; CORS off is announced", async () => {
    const endpoint = await startEndpoint(env);
    assert.match(endpoint.stdout(), /1 TURN URL, credentials valid 3600 s, CORS off \(same-origin callers only\)/);
    process.kill(endpoint.child.pid ?? 0, "SIGINT");
    assert.deepEqual(await Promise.race([endpoint.exited, delay(3000, undefined)]), { code: 0, signal: null }, endpoint.stdout() + endpoint.stderr());
  });

  test("a port in use: exit 1 naming the address and the fix, no listening line", async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    const run = spawnExample({ ...env, HOST: "127.0.0.1", PORT: String(port) });
    const result = await Promise.race([run.exited, delay(20_000, undefined)]);
    assert.deepEqual(result, { code: 1, signal: null }, run.stdout() + run.stderr());
    assert.match(run.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): another process uses it; pick another PORT`));
    assert.doesNotMatch(run.stdout(), /listening/);
  });
});

describe("the example endpoint refuses bad environment before listening", () => {
  const good = { TURN_AUTH_SECRET: SECRET, TURN_URLS: URLS.join(","), DEMO_BEARER_TOKEN: DEMO_TOKEN, HOST: "127.0.0.1", PORT: "0" };
  const shortSecret = `short-${randomBytes(6).toString("hex")}`;
  const cases: Array<{ name: string; env: Record<string, string | undefined>; expect: RegExp[]; hidden?: string[] }> = [
    { name: "missing secret", env: { TURN_AUTH_SECRET: undefined }, expect: [/TURN_AUTH_SECRET is not set: use the stack's coturn:authSecret/] },
    {
      name: "short secret",
      env: { TURN_AUTH_SECRET: shortSecret },
      expect: [new RegExp(`TURN_AUTH_SECRET is ${shortSecret.length} characters long \\(value not shown\\); it must be 32\\+ characters`)],
      hidden: [shortSecret],
    },
    {
      name: "secret with a trailing newline",
      env: { TURN_AUTH_SECRET: `${SECRET}\n` },
      expect: [/TURN_AUTH_SECRET starts or ends with whitespace \(value not shown; a newline from a file\?\)/],
    },
    { name: "missing URLs", env: { TURN_URLS: undefined }, expect: [/TURN_URLS is not set: pass the stack's URLs/] },
    {
      name: "not a TURN URL",
      env: { TURN_URLS: `${URLS[0]},https://turn.example.com:3478` },
      expect: [/TURN_URLS entry "https:\/\/turn\.example\.com:3478" is not a TURN URL: use turn:HOST:PORT\?transport=udp\|tcp/],
    },
    { name: "stun URL", env: { TURN_URLS: "stun:turn.example.com:3478" }, expect: [/TURN_URLS entry "stun:turn\.example\.com:3478" is not a TURN URL/] },
    { name: "bad port", env: { TURN_URLS: "turn:turn.example.com:70000?transport=udp" }, expect: [/TURN_URLS entry .* has port 70000: use a port from 1 to 65535/] },
    { name: "bad IPv4", env: { TURN_URLS: "turn:11.0.0.300:3478" }, expect: [/TURN_URLS entry "turn:11\.0\.0\.300:3478" has an invalid IP address 11\.0\.0\.300/] },
    { name: "DTLS only", env: { TURN_URLS: URLS[3] }, expect: [/TURN_URLS has only DTLS URLs .* no browser speaks/] },
    { name: "bad JSON URLs", env: { TURN_URLS: '["turn:a.example.com"' }, expect: [/TURN_URLS starts with "\[" but is not JSON/] },
    { name: "TTL 0", env: { TURN_CREDENTIAL_TTL: "0" }, expect: [/TURN_CREDENTIAL_TTL "0" is not a whole number of seconds from 1 to 86400 \(a day\): use e\.g\. 3600/] },
    { name: "TTL above the library's max", env: { TURN_CREDENTIAL_TTL: String(MAX_TTL_SECONDS + 1) }, expect: [/TURN_CREDENTIAL_TTL "86401" is not a whole number/] },
    { name: "TTL with a unit", env: { TURN_CREDENTIAL_TTL: "1h" }, expect: [/TURN_CREDENTIAL_TTL "1h" is not a whole number/] },
    {
      name: "origin with a trailing slash",
      env: { ALLOWED_ORIGIN: `${APP_ORIGIN}/` },
      expect: [/ALLOWED_ORIGIN "https:\/\/app\.example\.com\/" is not a web origin .*: use "https:\/\/app\.example\.com"/],
    },
    { name: "wildcard origin", env: { ALLOWED_ORIGIN: "*" }, expect: [/ALLOWED_ORIGIN "\*" is not a web origin .* no wildcard\): use the exact origin of your web app/] },
    { name: "bad PORT", env: { PORT: "http" }, expect: [/PORT "http" is not a port number from 0 to 65535/] },
    { name: "bad HOST", env: { HOST: "local host" }, expect: [/HOST "local host" is not an IP address or host name/] },
    { name: "bad METRICS_PORT", env: { METRICS_PORT: "metrics" }, expect: [/METRICS_PORT "metrics" is not a port number from 0 to 65535: use e\.g\. 9464, or leave it unset/] },
    { name: "metrics on the app's port", env: { PORT: "9464", METRICS_PORT: "9464" }, expect: [/METRICS_PORT 9464 is the app's PORT: the metrics need a listener of their own/] },
    { name: "METRICS_HOST without METRICS_PORT", env: { METRICS_HOST: "0.0.0.0" }, expect: [/METRICS_HOST is set but METRICS_PORT is not/] },
    { name: "missing demo token", env: { DEMO_BEARER_TOKEN: undefined }, expect: [/DEMO_BEARER_TOKEN is not set: the DEMO authentication needs a token .* replace demoBearerAuthenticate/] },
    {
      name: "everything wrong at once: every problem listed",
      env: { TURN_AUTH_SECRET: shortSecret, TURN_URLS: "http://x", TURN_CREDENTIAL_TTL: "-5", ALLOWED_ORIGIN: "app.example.com", PORT: "99999", DEMO_BEARER_TOKEN: "short" },
      expect: [/6 problems:/, /TURN_AUTH_SECRET is \d+ characters/, /TURN_URLS entry "http:\/\/x"/, /TURN_CREDENTIAL_TTL "-5"/, /ALLOWED_ORIGIN "app\.example\.com"/, /PORT "99999"/, /DEMO_BEARER_TOKEN is too short/],
      hidden: [shortSecret],
    },
  ];

  for (const { name, env, expect, hidden = [] } of cases) {
    test(`${name}: exit 2 before listening, naming the variable, the value and the fix`, async () => {
      const run = spawnExample({ ...good, ...env });
      const result = await Promise.race([run.exited, delay(20_000, undefined)]);
      assert.deepEqual(result, { code: 2, signal: null }, `exit 2 within 20 s\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`);
      assert.equal(run.stdout(), "", "nothing on stdout (it never listened)");
      assert.match(run.stderr(), /^ice-servers-endpoint: /);
      for (const pattern of expect) assert.match(run.stderr(), pattern);
      for (const value of [SECRET, DEMO_TOKEN, ...hidden]) assert.ok(!run.stderr().includes(value), `${name}: a secret value in the error`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------

describe("createIceServersHandler inside a server of this process", () => {
  const servers: Server[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  /** Serves a handler on 127.0.0.1:0 and collects its log lines. */
  async function serve(options: Partial<IceServersHandlerOptions>): Promise<{ url: string; logs: string[] }> {
    const logs: string[] = [];
    const handler: RequestListener = createIceServersHandler({
      secret: SECRET,
      urls: URLS,
      authenticate: async () => "alice",
      log: (line) => logs.push(line),
      ...options,
    });
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ice-servers`, logs };
  }

  test("a throwing authenticate hook: 500 whose body says nothing about it; the log line names it", async () => {
    const { url, logs } = await serve({
      authenticate: async () => {
        throw new Error("session store unreachable at 10.1.2.3:6379");
      },
    });
    const answer = await send(url);
    assert.equal(answer.status, 500);
    assert.equal(answer.text, JSON.stringify({ error: "internal error" }));
    assertBaseHeaders(answer, "500");
    assert.equal(logs.length, 1);
    assert.match(logs[0], /^GET "\/ice-servers" 500 user=- [\d.]+ms \(authenticate\(\) threw Error: session store unreachable at 10\.1\.2\.3:6379\)$/);
  });

  test("a hook that rejects with a non-Error or returns a non-string: 500", async () => {
    const rejecting = await serve({ authenticate: () => Promise.reject("nope") });
    assert.equal((await send(rejecting.url)).status, 500);
    assert.match(rejecting.logs[0], /\(authenticate\(\) threw non-Error thrown: nope\)$/);
    // A JavaScript caller can return anything; the types forbid it, hence the cast.
    const numeric = await serve({ authenticate: async () => 42 as unknown as string });
    assert.equal((await send(numeric.url)).status, 500);
    assert.match(numeric.logs[0], /\(authenticate\(\) returned a number, not a user id string or undefined\)$/);
  });

  test("a user id coturn cannot use (colon, whitespace, empty, too long): 500, and the log says which id and why", async () => {
    for (const user of ["alice:admin", "alice smith", ""]) {
      const { url, logs } = await serve({ authenticate: async () => user });
      const answer = await send(url);
      assert.equal(answer.status, 500, JSON.stringify(user));
      assert.equal(answer.text, JSON.stringify({ error: "internal error" }));
      assert.ok(logs[0].includes(` 500 user=${JSON.stringify(user)} `), logs[0]);
      assert.match(logs[0], /authenticate\(\) returned an unusable id: user .* is not a valid user id: use a non-empty id without ':' or whitespace/);
    }
    // Longer than a TURN username can carry: the log line shortens the id and says why.
    const { url, logs } = await serve({ authenticate: async () => "u".repeat(600) });
    assert.equal((await send(url)).status, 500);
    assert.match(logs[0], / 500 user="u{100}…" .*\(authenticate\(\) returned an unusable id: user id is 600 bytes long; TURN usernames are limited to 508 bytes/);
  });

  test("a fixed clock, allowCredentials and a custom challenge", async () => {
    const now = new Date("2030-01-02T03:04:05Z");
    const { url } = await serve({ now: () => now, ttlSeconds: 60, allowedOrigin: APP_ORIGIN, allowCredentials: true, wwwAuthenticate: 'Cookie realm="app"' });
    const answer = await send(url, { headers: { origin: APP_ORIGIN } });
    const body = json<IceServersResponse>(answer);
    const expiry = Math.floor(now.getTime() / 1000) + 60;
    assert.equal(body.iceServers[0].username, `${expiry}:alice`);
    assert.equal(body.expiresAt, "2030-01-02T03:05:05.000Z");
    assert.equal(verifyTurnCredential([SECRET], body.iceServers[0].username, body.iceServers[0].credential, now), true);
    assert.equal(answer.headers["access-control-allow-credentials"], "true");
    assertNoCors(await send(url, { headers: { origin: "https://other.example.com" } }), "other origin, credentials mode");
    const { url: anonymous } = await serve({ authenticate: async () => undefined, wwwAuthenticate: 'Cookie realm="app"' });
    assert.equal((await send(anonymous)).headers["www-authenticate"], 'Cookie realm="app"');
  });

  test("a logger that throws does not break answers", async () => {
    const { url } = await serve({
      log: () => {
        throw new Error("log sink down");
      },
    });
    assert.equal((await send(url)).status, 200);
    assert.equal((await send(url)).status, 200);
  });

  test("bad options throw IceEndpointConfigError naming the option, the value and the fix, never the secret", () => {
    const base: IceServersHandlerOptions = { secret: SECRET, urls: URLS, authenticate: async () => undefined };
    const cases: Array<[Partial<IceServersHandlerOptions>, RegExp]> = [
      [{ secret: "too-short-secret" }, /^options\.secret is 16 characters long \(value not shown\)/],
      [{ secret: "" }, /^options\.secret is not set/],
      [{ urls: [] }, /^options\.urls is empty: use turn:HOST:PORT/],
      [{ urls: ["turn:"] }, /^options\.urls entry "turn:" is not a TURN URL/],
      [{ urls: ["turn:[::1]:3478", "turn:[1::2::3]:3478"] }, /^options\.urls entry "turn:\[1::2::3\]:3478" has an invalid IP address \[1::2::3\]/],
      [{ ttlSeconds: 0 }, /^options\.ttlSeconds 0 is not a whole number of seconds from 1 to 86400/],
      [{ ttlSeconds: 1.5 }, /^options\.ttlSeconds 1\.5 is not a whole number/],
      [{ ttlSeconds: MAX_TTL_SECONDS + 1 }, /^options\.ttlSeconds 86401 is not/],
      [{ allowedOrigin: "https://App.example.com" }, /^options\.allowedOrigin "https:\/\/App\.example\.com" is not a web origin .*: use "https:\/\/app\.example\.com"$/],
      [{ allowedOrigin: "https://app.example.com/path" }, /use "https:\/\/app\.example\.com"$/],
      [{ allowedOrigin: "https://app.example.com:443" }, /use "https:\/\/app\.example\.com"$/],
      [{ authenticate: undefined }, /^options\.authenticate is not a function/],
    ];
    for (const [override, pattern] of cases) {
      assert.throws(
        () => createIceServersHandler({ ...base, ...override } as IceServersHandlerOptions),
        (error: unknown) => {
          assert.ok(error instanceof IceEndpointConfigError, String(error));
          assert.match(error.message, pattern);
          assert.ok(!error.message.includes(SECRET) && !error.message.includes("too-short-secret"), "no secret in the message");
          return true;
        },
        JSON.stringify(override),
      );
    }
    // Accepted: IPv4, [IPv6], no port, no transport, DNS names.
    assert.doesNotThrow(() => createIceServersHandler({ ...base, urls: ["turn:11.0.0.10", "turn:[2600:1f18::10]:3478?transport=udp", "turns:turn.example.com:443?transport=tcp"] }));
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("credentials from the endpoint on a real coturn (the AWS example stack's production config, lab network)", () => {
  const ECHO_PORT = 3480;
  const labUrls = [
    `turn:${CLOUD_LAB.publicIp}:3478?transport=udp`,
    `turn:${CLOUD_LAB.publicIp}:3478?transport=tcp`,
    `turns:${CLOUD_LAB.publicIp}:5349?transport=tcp`,
  ];
  let cloud: CloudLab | undefined;
  let echo: LabProcess;
  let endpoint: EndpointProcess;
  let wrongSecret: EndpointProcess;

  before(async () => {
    cloud = await startCloudLab({ stack: "aws-example", tag: `ice${process.pid}` });
    // coturn's own test peer: echoes every UDP datagram back to its sender.
    echo = cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    // JSON form, as `TURN_URLS="$(pulumi stack output urls --json)"` passes it.
    const env = { TURN_URLS: JSON.stringify(labUrls), DEMO_BEARER_TOKEN: DEMO_TOKEN };
    [endpoint, wrongSecret] = await Promise.all([
      startEndpoint({ ...env, TURN_AUTH_SECRET: LAB_SECRET }),
      startEndpoint({ ...env, TURN_AUTH_SECRET: `another-secret-${randomBytes(16).toString("hex")}` }),
    ]);
  });
  after(async () => {
    await Promise.all([endpoint, wrongSecret].filter((e) => e !== undefined).map((e) => stopChild(e.child)));
    await cloud?.destroy();
  });

  /** Fetches credentials over loopback and reads the server and transports from the URLs the endpoint returned. */
  async function fetchCredentials(from: EndpointProcess): Promise<{ username: string; password: string; target: ReturnType<typeof targetFromUrls> }> {
    const body = json<IceServersResponse>(await send(from.url, { headers: bearer(DEMO_TOKEN) }));
    const [server] = body.iceServers;
    assert.deepEqual(server.urls, labUrls);
    return { username: server.username, password: server.credential, target: targetFromUrls(server.urls) };
  }

  const job = <T>(spec: Parameters<typeof runLabJob>[2]): T => {
    if (!cloud) throw new Error("the lab did not start");
    try {
      return runLabJob<T>(cloud.lab, cloud.hosts.client, spec);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- coturn log (tail) ---\n${cloud.log().split("\n").slice(-30).join("\n")}`);
    }
  };

  test("coturn accepts them: an allocation over UDP, TCP and TLS relays from the static public IP", async () => {
    const { username, password, target } = await fetchCredentials(endpoint);
    assert.equal(target.host, CLOUD_LAB.publicIp);
    assert.deepEqual(target.transports, ["udp", "tcp", "tls"]);
    for (const transport of target.transports) {
      const port = transport === "tls" ? target.ports.tls : target.ports.plain;
      const outcome: Outcome = job<Outcome>({ job: "allocate", server: { host: target.host, port }, transport, credentials: { username, password } });
      assert.equal(outcome.ok, true, `${transport}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.ok && outcome.relayed?.host, CLOUD_LAB.publicIp, `${transport}: relayed from the static public IP`);
    }
  });

  test("and relay with them: 1000 bytes to the echo peer and back, identical", async () => {
    const { username, password, target } = await fetchCredentials(endpoint);
    const result = job<{ relayed: { host: string }; sent: number; identical: boolean }>({
      job: "echo",
      server: { host: target.host, port: target.ports.plain },
      transport: "udp",
      credentials: { username, password },
      peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
      bytes: 1000,
    });
    assert.deepEqual([result.relayed.host, result.sent, result.identical], [CLOUD_LAB.publicIp, 1000, true]);
    assert.equal(echo.child.exitCode, null, echo.output());
  });

  test("an endpoint started with another secret hands out credentials coturn refuses with 401", async () => {
    const { username, password, target } = await fetchCredentials(wrongSecret);
    for (const transport of ["udp", "tcp"] as const) {
      const outcome = job<Outcome>({ job: "allocate", server: { host: target.host, port: target.ports.plain }, transport, credentials: { username, password } });
      assert.equal(outcome.ok, false, `${transport}: ${JSON.stringify(outcome)}`);
      assert.equal(!outcome.ok && outcome.code, 401, `${transport}: ${JSON.stringify(outcome)}`);
    }
  });

  test("neither endpoint printed its secret or a credential", async () => {
    const fresh = await fetchCredentials(endpoint);
    await until("the log line", () => endpoint.stdout().split("\n").filter((l) => / 200 user="demo-user" /.test(l)).length >= 3, 5000);
    for (const e of [endpoint, wrongSecret]) {
      const output = e.stdout() + e.stderr();
      assert.ok(!output.includes(LAB_SECRET), "no secret");
      assert.ok(!output.includes(fresh.password), "no credential");
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// POST /ice-report and the metrics.
// ---------------------------------------------------------------------------------------------------------------

/** Reports of a known mix, each with how the metrics must count it. */
const CONNECTED_RELAY_UDP: IceReport = { outcome: "connected", localCandidateType: "relay", remoteCandidateType: "relay", protocol: "udp", rttSeconds: 0.04 };
const CONNECTED_RELAY_TLS: IceReport = { outcome: "connected", localCandidateType: "srflx", remoteCandidateType: "relay", protocol: "tls", rttSeconds: 0.3 };
const CONNECTED_P2P: IceReport = { outcome: "connected", localCandidateType: "host", remoteCandidateType: "srflx", protocol: "udp", rttSeconds: 0.008 };
const CONNECTED_NO_RTT: IceReport = { outcome: "connected", localCandidateType: "prflx", remoteCandidateType: "host", protocol: "tcp" };
const FAILED_NO_RELAY: IceReport = { outcome: "failed", reason: "no-relay-candidate" };
const FAILED_401: IceReport = { outcome: "failed", reason: "turn-401" };

/** The samples of a Prometheus text exposition: `name{labels}` → value (comments and empty lines left out). */
function samples(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(\S+?(?:\{[^}]*\})?) (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    result.set(match[1], Number(match[2]));
  }
  return result;
}

/** The samples of one family (`name` and its `_bucket`/`_sum`/`_count`), as an object for deepEqual. */
function family(text: string, name: string): Record<string, number> {
  return Object.fromEntries([...samples(text)].filter(([key]) => key === name || key.startsWith(`${name}{`) || key.startsWith(`${name}_`)));
}

/** What the metrics must show after 3×CONNECTED_RELAY_UDP, 1×CONNECTED_RELAY_TLS, 2×CONNECTED_P2P, 1×CONNECTED_NO_RTT, 2×FAILED_NO_RELAY, 1×FAILED_401. */
const MIX: ReadonlyArray<readonly [IceReport, number]> = [
  [CONNECTED_RELAY_UDP, 3],
  [CONNECTED_RELAY_TLS, 1],
  [CONNECTED_P2P, 2],
  [CONNECTED_NO_RTT, 1],
  [FAILED_NO_RELAY, 2],
  [FAILED_401, 1],
];
const MIX_REPORTS = {
  'webrtc_call_reports_total{outcome="connected",relayed="true",protocol="udp"}': 3,
  'webrtc_call_reports_total{outcome="connected",relayed="true",protocol="tls"}': 1,
  'webrtc_call_reports_total{outcome="connected",relayed="false",protocol="udp"}': 2,
  'webrtc_call_reports_total{outcome="connected",relayed="false",protocol="tcp"}': 1,
  'webrtc_call_reports_total{outcome="failed",relayed="false",protocol="none"}': 3,
};
const MIX_FAILURES = {
  'webrtc_call_failures_total{reason="turn-401"}': 1,
  'webrtc_call_failures_total{reason="tls-failure"}': 0,
  'webrtc_call_failures_total{reason="no-relay-candidate"}': 2,
  'webrtc_call_failures_total{reason="timeout"}': 0,
  'webrtc_call_failures_total{reason="ice-failed"}': 0,
};
/** RTTs 3×0.04, 1×0.3, 2×0.008 against the buckets 0.01 … 2. */
const MIX_RTT = {
  'webrtc_call_rtt_seconds_bucket{le="0.01"}': 2,
  'webrtc_call_rtt_seconds_bucket{le="0.025"}': 2,
  'webrtc_call_rtt_seconds_bucket{le="0.05"}': 5,
  'webrtc_call_rtt_seconds_bucket{le="0.1"}': 5,
  'webrtc_call_rtt_seconds_bucket{le="0.15"}': 5,
  'webrtc_call_rtt_seconds_bucket{le="0.2"}': 5,
  'webrtc_call_rtt_seconds_bucket{le="0.3"}': 6,
  'webrtc_call_rtt_seconds_bucket{le="0.5"}': 6,
  'webrtc_call_rtt_seconds_bucket{le="1"}': 6,
  'webrtc_call_rtt_seconds_bucket{le="2"}': 6,
  'webrtc_call_rtt_seconds_bucket{le="+Inf"}': 6,
  webrtc_call_rtt_seconds_sum: 0.436,
  webrtc_call_rtt_seconds_count: 6,
};

const jsonHeaders = { "content-type": "application/json" };

describe("POST /ice-report inside a server of this process: auth, refusals, rate limit, metrics", () => {
  const servers: Server[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });
  /** A fresh, random user id per run: it must show in no metric. */
  const USER = `user-${randomBytes(6).toString("hex")}`;

  /** Serves a handler whose authenticate reads `x-user` (absent: unauthenticated), with its own metrics. */
  async function serve(options: Partial<IceServersHandlerOptions> = {}): Promise<{ url: string; logs: string[]; metrics: IceReportMetrics }> {
    const logs: string[] = [];
    const metrics = new IceReportMetrics();
    const server = createServer(
      createIceServersHandler({
        secret: SECRET,
        urls: URLS,
        authenticate: async (request) => (typeof request.headers["x-user"] === "string" ? request.headers["x-user"] : undefined),
        log: (line) => logs.push(line),
        metrics,
        ...options,
      }),
    );
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ice-report`, logs, metrics };
  }

  const post = (url: string, body: unknown, headers: Record<string, string> = { ...jsonHeaders, "x-user": USER }): Promise<Answer> =>
    send(url, { method: "POST", headers, body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body) });

  test("a known mix of reports: 204 each, and the metrics count exactly that (no user id in any of them)", async () => {
    const { url, logs, metrics } = await serve({ rateLimit: { burst: 100 } });
    for (const [report, times] of MIX) {
      for (let i = 0; i < times; i++) {
        const answer = await post(url, report);
        assert.equal(answer.status, 204, answer.text);
        assert.equal(answer.text, "");
      }
    }
    const text = await metrics.text();
    assert.deepEqual(family(text, "webrtc_call_reports_total"), MIX_REPORTS);
    assert.deepEqual(family(text, "webrtc_call_failures_total"), MIX_FAILURES);
    const rtt = family(text, "webrtc_call_rtt_seconds");
    assert.ok(Math.abs(rtt.webrtc_call_rtt_seconds_sum - 0.436) < 1e-9, String(rtt.webrtc_call_rtt_seconds_sum));
    assert.deepEqual({ ...rtt, webrtc_call_rtt_seconds_sum: 0.436 }, MIX_RTT);
    assert.deepEqual(family(text, "webrtc_call_reports_refused_total"), {
      'webrtc_call_reports_refused_total{status="400"}': 0,
      'webrtc_call_reports_refused_total{status="413"}': 0,
      'webrtc_call_reports_refused_total{status="415"}': 0,
      'webrtc_call_reports_refused_total{status="429"}': 0,
    });
    assert.ok(!text.includes(USER), "the user id is in the metrics");
    // Only these label names exist: nothing that could carry a user, a token or a credential.
    const labelNames = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]));
    assert.deepEqual([...labelNames].sort(), ["le", "outcome", "protocol", "reason", "relayed", "status"]);
    // One log line per report: outcome and reason, nothing else of the body.
    assert.equal(logs.length, 10);
    assert.match(logs[0], new RegExp(`^POST "/ice-report" 204 user="${USER}" [\\d.]+ms \\(outcome=connected\\)$`));
    assert.match(logs[8], new RegExp(`^POST "/ice-report" 204 user="${USER}" [\\d.]+ms \\(outcome=failed reason=no-relay-candidate\\)$`));
    assert.ok(logs.every((line) => !/relay"|srflx|0\.04|rtt/i.test(line)), logs.join("\n"));
  });

  test("401 without authentication, before the body is looked at; nothing counted", async () => {
    const { url, metrics } = await serve();
    const answer = await post(url, CONNECTED_P2P, jsonHeaders);
    assert.equal(answer.status, 401);
    assert.equal(answer.headers["www-authenticate"], DEFAULT_CHALLENGE);
    // Not even a bad body gets past authentication.
    assert.equal((await post(url, "{not json", jsonHeaders)).status, 401);
    assert.equal((await post(url, "x".repeat(5000), { "content-type": "text/plain" })).status, 401);
    const counted = samples(await metrics.text());
    assert.equal([...counted].filter(([key, value]) => key.startsWith("webrtc_call_reports") && value > 0).length, 0);
  });

  test("415 unless Content-Type is application/json (charset utf-8 allowed)", async () => {
    const { url, metrics } = await serve();
    for (const type of [undefined, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx"]) {
      const headers: Record<string, string> = { "x-user": USER, ...(type === undefined ? {} : { "content-type": type }) };
      const answer = await post(url, CONNECTED_P2P, headers);
      assert.equal(answer.status, 415, String(type));
      assert.match(json<{ error: string }>(answer).error, /^Content-Type is .*: send the report as JSON with Content-Type: application\/json$/);
    }
    assert.equal((await post(url, CONNECTED_P2P, { "content-type": "Application/JSON; charset=UTF-8", "x-user": USER })).status, 204);
    assert.equal(samples(await metrics.text()).get('webrtc_call_reports_refused_total{status="415"}'), 5);
  });

  test("413 for a body over 4 KiB, declared or streamed; 4096 bytes exactly is read", async () => {
    const { url, metrics } = await serve();
    const big = await post(url, " ".repeat(MAX_REPORT_BYTES + 1));
    assert.equal(big.status, 413);
    assert.equal(big.headers.connection, "close");
    assert.deepEqual(json(big), { error: "the report is larger than 4096 bytes: a report is one small JSON object" });
    // Chunked (no Content-Length): reading stops past the cap.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: "POST", headers: { ...jsonHeaders, "x-user": USER }, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      for (let i = 0; i < 5; i++) req.write("x".repeat(1000));
      req.end();
    });
    assert.equal(chunked, 413);
    const exact = JSON.stringify(FAILED_NO_RELAY).padEnd(MAX_REPORT_BYTES, " ");
    assert.equal((await post(url, exact)).status, 204, "a 4096-byte body (JSON with trailing spaces) is accepted");
    assert.equal(samples(await metrics.text()).get('webrtc_call_reports_refused_total{status="413"}'), 2);
  });

  test("400 for bad JSON or a bad shape, naming the field, the value and what to send", async () => {
    const { url, metrics } = await serve();
    const cases: Array<[unknown, RegExp]> = [
      ["{not json", /^the body is not JSON \(.*\): send e\.g\. \{"outcome":"failed","reason":"ice-failed"\}$/],
      ["[1,2]", /^the body is \[1,2\], not a JSON object/],
      ["null", /^the body is null, not a JSON object/],
      [{}, /^field outcome is missing: use connected \| failed$/],
      [{ outcome: "ok" }, /^field outcome is "ok": use connected \| failed$/],
      [{ ...CONNECTED_P2P, localCandidateType: "local" }, /^field localCandidateType is "local": use host \| srflx \| prflx \| relay$/],
      [{ ...CONNECTED_P2P, remoteCandidateType: undefined }, /^field remoteCandidateType is missing: use host \| srflx \| prflx \| relay$/],
      [{ ...CONNECTED_P2P, protocol: "sctp" }, /^field protocol is "sctp": use udp \| tcp \| tls$/],
      [{ ...CONNECTED_P2P, rttSeconds: 61 }, /^field rttSeconds is 61: use a number of seconds from 0 to 60/],
      [{ ...CONNECTED_P2P, rttSeconds: -0.1 }, /^field rttSeconds is -0\.1: use a number of seconds from 0 to 60/],
      [{ ...CONNECTED_P2P, rttSeconds: "0.1" }, /^field rttSeconds is "0\.1": use a number of seconds/],
      [{ outcome: "failed" }, /^field reason is missing: use turn-401 \| tls-failure \| no-relay-candidate \| timeout \| ice-failed$/],
      [{ outcome: "failed", reason: "ICE failed" }, /^field reason is "ICE failed": use turn-401/],
      [{ ...FAILED_401, userId: "alice" }, /^unknown field "userId": a "failed" report has only outcome, reason$/],
      [{ ...CONNECTED_P2P, reason: "timeout" }, /^unknown field "reason": a "connected" report has only outcome, localCandidateType, remoteCandidateType, protocol, rttSeconds$/],
    ];
    for (const [body, pattern] of cases) {
      const answer = await post(url, body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(json<{ error: string }>(answer).error, pattern, JSON.stringify(body));
    }
    const text = await metrics.text();
    assert.equal(samples(text).get('webrtc_call_reports_refused_total{status="400"}'), cases.length);
    assert.deepEqual(Object.values(family(text, "webrtc_call_reports_total")), [], "no report counted");
  });

  test("429 with Retry-After past a user's burst, per user id; the bucket refills with time", async () => {
    let clock = Date.parse("2030-01-01T00:00:00Z");
    const { url, logs, metrics } = await serve({ now: () => new Date(clock), rateLimit: { burst: 3, perMinute: 6 } });
    for (let i = 0; i < 3; i++) assert.equal((await post(url, CONNECTED_P2P)).status, 204, `report ${i + 1} of the burst`);
    const limited = await post(url, CONNECTED_P2P);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["retry-after"], "10", "one token per 10 s at 6 a minute");
    assert.deepEqual(json(limited), { error: "too many reports: try again in 10 s" });
    assert.match(logs[3], / 429 user="user-[0-9a-f]+" [\d.]+ms \(rate limited\)$/);
    // Another user has a bucket of their own.
    assert.equal((await post(url, CONNECTED_P2P, { ...jsonHeaders, "x-user": "other-user" })).status, 204);
    clock += 4_000;
    assert.equal((await post(url, CONNECTED_P2P)).headers["retry-after"], "6", "4 s later: 6 s to go");
    clock += 6_000;
    assert.equal((await post(url, CONNECTED_P2P)).status, 204, "10 s later: one more");
    assert.equal((await post(url, CONNECTED_P2P)).status, 429);
    const text = await metrics.text();
    assert.equal(samples(text).get('webrtc_call_reports_total{outcome="connected",relayed="false",protocol="udp"}'), 5);
    assert.equal(samples(text).get('webrtc_call_reports_refused_total{status="429"}'), 3);
  });

  test("the rate limiter's memory is bounded: past maxClients the least recently seen user is forgotten", () => {
    const buckets = new TokenBuckets({ burst: 1, perMinute: 1, maxClients: 2 });
    const t = 1_000_000;
    assert.equal(buckets.take("a", t), 0);
    assert.equal(buckets.take("b", t), 0);
    assert.equal(buckets.take("a", t), 60, "a is empty: one token a minute");
    assert.equal(buckets.take("c", t), 0, "c evicts b, the least recently seen");
    assert.equal(buckets.size, 2);
    assert.equal(buckets.take("a", t), 60, "a was kept (seen more recently than b)");
    assert.equal(buckets.take("b", t), 0, "b was forgotten: a full bucket again");
    assert.equal(buckets.size, 2);
    for (let i = 0; i < 10_000; i++) buckets.take(`u${i}`, t);
    assert.equal(buckets.size, 2);
    assert.throws(() => new TokenBuckets({ burst: 0 }), /rateLimit\.burst 0 is not a whole number of 1 or more/);
  });

  test("other methods on /ice-report: 405 with Allow: POST, OPTIONS", async () => {
    const { url } = await serve();
    for (const method of ["GET", "PUT", "DELETE"]) {
      const answer = await send(url, { method, headers: { "x-user": USER } });
      assert.equal(answer.status, 405, method);
      assert.equal(answer.headers.allow, "POST, OPTIONS");
      assert.deepEqual(json(answer), { error: "method not allowed: use POST /ice-report" });
    }
  });
});

describe("the example endpoint with METRICS_PORT, as a process on loopback: /ice-report and a separate /metrics", () => {
  let endpoint: EndpointProcess;
  let metricsUrl: string;
  const report = (body: unknown, headers: Record<string, string> = { ...jsonHeaders, ...bearer(DEMO_TOKEN) }): Promise<Answer> =>
    send(`${endpoint.base}/ice-report`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });

  before(async () => {
    endpoint = await startEndpoint({
      TURN_AUTH_SECRET: SECRET,
      TURN_URLS: URLS.join(","),
      ALLOWED_ORIGIN: APP_ORIGIN,
      DEMO_BEARER_TOKEN: DEMO_TOKEN,
      METRICS_PORT: "0",
    });
    await until("the metrics listening line", () => /metrics listening on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(endpoint.stdout()), 10_000);
    metricsUrl = /metrics listening on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(endpoint.stdout())?.[1] ?? "";
  });
  after(async () => {
    if (endpoint) await stopChild(endpoint.child);
  });

  test("the metrics listener is on loopback (METRICS_HOST default), on a port of its own; the app port has no /metrics", async () => {
    assert.match(endpoint.stdout().split("\n")[1], /^metrics listening on http:\/\/127\.0\.0\.1:\d+\/metrics \(Prometheus; keep it off the app's network\)$/);
    assert.notEqual(new URL(metricsUrl).port, new URL(endpoint.base).port);
    const onApp = await send(`${endpoint.base}/metrics`, { headers: bearer(DEMO_TOKEN) });
    assert.equal(onApp.status, 404);
    const fresh = await send(metricsUrl);
    assert.equal(fresh.status, 200);
    assert.match(String(fresh.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    assert.deepEqual(family(fresh.text, "webrtc_call_reports_total"), {}, "no report yet");
    assert.equal(samples(fresh.text).get('webrtc_call_failures_total{reason="ice-failed"}'), 0, "failure series exist at 0 from the start");
    assert.equal((await send(metricsUrl.replace("/metrics", "/other"))).status, 404);
    assert.equal((await send(metricsUrl, { method: "POST" })).status, 405);
  });

  test("preflight for POST /ice-report allows POST with Authorization and Content-Type; the POST answer carries CORS", async () => {
    const preflight = await send(`${endpoint.base}/ice-report`, {
      method: "OPTIONS",
      headers: { origin: APP_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers["access-control-allow-origin"], APP_ORIGIN);
    assert.equal(preflight.headers["access-control-allow-methods"], "POST");
    assert.equal(preflight.headers["access-control-allow-headers"], "Authorization, Content-Type");
    assert.equal(preflight.headers["access-control-max-age"], "600");
    const refused = await send(`${endpoint.base}/ice-report`, { method: "OPTIONS", headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" } });
    assert.equal(refused.status, 403);
    assertNoCors(refused, "preflight from another origin");
    const plain = await send(`${endpoint.base}/ice-report`, { method: "OPTIONS" });
    assert.equal(plain.headers.allow, "POST, OPTIONS");
    const posted = await report(CONNECTED_RELAY_UDP, { ...jsonHeaders, ...bearer(DEMO_TOKEN), origin: APP_ORIGIN });
    assert.equal(posted.status, 204);
    assert.equal(posted.headers["access-control-allow-origin"], APP_ORIGIN);
    assertBaseHeaders(posted, "204");
    const unauthenticated = await report(CONNECTED_RELAY_UDP, { ...jsonHeaders, origin: APP_ORIGIN });
    assert.equal(unauthenticated.status, 401);
    assert.equal(unauthenticated.headers["access-control-allow-origin"], APP_ORIGIN, "the app's page can read the 401");
  });

  test("refusals over the wire: 401, 415, 413, 400; then the mix; /metrics shows exactly what was accepted and refused", async () => {
    assert.equal((await report(CONNECTED_P2P, jsonHeaders)).status, 401);
    assert.equal((await report(CONNECTED_P2P, { ...jsonHeaders, ...bearer(`${DEMO_TOKEN}x`) })).status, 401);
    assert.equal((await report(CONNECTED_P2P, { "content-type": "text/plain", ...bearer(DEMO_TOKEN) })).status, 415);
    assert.equal((await report("x".repeat(MAX_REPORT_BYTES + 1))).status, 413);
    const bad = await report({ outcome: "failed", reason: "dunno" });
    assert.equal(bad.status, 400);
    assert.match(json<{ error: string }>(bad).error, /^field reason is "dunno": use turn-401/);
    // One CONNECTED_RELAY_UDP was sent by the CORS test: the mix has 3.
    for (const [body, times] of MIX) {
      for (let i = 0; i < (body === CONNECTED_RELAY_UDP ? times - 1 : times); i++) assert.equal((await report(body)).status, 204);
    }
    const text = (await send(metricsUrl)).text;
    assert.deepEqual(family(text, "webrtc_call_reports_total"), MIX_REPORTS);
    assert.deepEqual(family(text, "webrtc_call_failures_total"), MIX_FAILURES);
    assert.equal(samples(text).get("webrtc_call_rtt_seconds_count"), 6);
    assert.deepEqual(family(text, "webrtc_call_reports_refused_total"), {
      'webrtc_call_reports_refused_total{status="400"}': 1,
      'webrtc_call_reports_refused_total{status="413"}': 1,
      'webrtc_call_reports_refused_total{status="415"}': 1,
      'webrtc_call_reports_refused_total{status="429"}': 0,
    });
    for (const hidden of ["demo-user", DEMO_TOKEN, SECRET]) assert.ok(!text.includes(hidden), "a user id, token or secret in the metrics");
  });

  test("the default rate limit: 20 reports in a burst per user, the next one 429 with Retry-After 6", async () => {
    // 12 of demo-user's 20 tokens are used: the CORS test's report, the 413 and the 400 (a 415 is refused before the
    // limiter), the mix's 9. Allow a token or two refilled meanwhile (10 a minute).
    let accepted = 0;
    let limited: Answer | undefined;
    for (let i = 0; i < 20 && limited === undefined; i++) {
      const answer = await report(FAILED_401);
      if (answer.status === 429) limited = answer;
      else accepted++;
    }
    assert.ok(limited, "no 429 within 20 more reports");
    assert.ok(accepted >= 8 && accepted <= 10, `accepted ${accepted} before the 429 (20 - 12 used, plus what refilled)`);
    assert.match(String(limited.headers["retry-after"]), /^[1-6]$/);
    assert.match(json<{ error: string }>(limited).error, /^too many reports: try again in [1-6] s$/);
    const text = (await send(metricsUrl)).text;
    assert.equal(samples(text).get('webrtc_call_reports_refused_total{status="429"}'), 1);
    assert.equal(samples(text).get('webrtc_call_failures_total{reason="turn-401"}'), 1 + accepted);
  });

  test("one log line per report request, with the outcome or reason and nothing else of the body", async () => {
    const lines = endpoint.stdout().split("\n").filter((line) => /^\S+ POST "\/ice-report" /.test(line));
    assert.ok(lines.some((line) => / 204 user="demo-user" [\d.]+ms \(outcome=failed reason=turn-401\)$/.test(line)), lines.join("\n"));
    assert.ok(lines.some((line) => / 204 user="demo-user" origin="https:\/\/app\.example\.com" [\d.]+ms \(outcome=connected\)$/.test(line)));
    assert.ok(lines.some((line) => / 415 user="demo-user" [\d.]+ms \(not JSON\)$/.test(line)));
    assert.ok(lines.some((line) => / 429 user="demo-user" [\d.]+ms \(rate limited\)$/.test(line)));
    const output = endpoint.stdout() + endpoint.stderr();
    assert.ok(!/srflx|dunno|0\.04/.test(output), "body content in the log");
    assert.ok(!output.includes(DEMO_TOKEN.slice(0, 20)) && !output.includes(SECRET));
  });
});
