/**
 * An ACME certificate authority and a Cloudflare DNS API for the cloud lab, on one host of the lab internet:
 *
 * - Debian's `pebble` (Let's Encrypt's test ACME server) with `pebble-challtestsrv` as the DNS server it validates
 *   DNS-01 challenges against (`pebble -dnsserver`);
 * - a stand-in for the Cloudflare API v4 (HTTPS, node), implementing exactly what certbot-dns-cloudflare 2.0.0 calls
 *   through python3-cloudflare 2.11.1: `GET /zones?name=…&per_page=1` for each candidate zone name, then
 *   `POST /zones/{id}/dns_records` ({type: TXT, name, content, ttl}), `GET /zones/{id}/dns_records?type=TXT&name=…&content=…&per_page=1`
 *   and `DELETE /zones/{id}/dns_records/{record}`. A TXT record it creates is put into pebble-challtestsrv
 *   (`/set-txt`), a deleted one taken out (`/clear-txt`), so pebble sees exactly what certbot asked Cloudflare for.
 *   It checks `Authorization: Bearer <token>` (Cloudflare answers 403, error 9109, otherwise) and records every call.
 *
 * A lab certificate authority signs both HTTPS servers; certbot (python requests) trusts it through
 * `REQUESTS_CA_BUNDLE`, and python3-cloudflare goes to the stand-in through `CLOUDFLARE_API_URL` (read by
 * CloudFlare/read_configs.py; the default is https://api.cloudflare.com/client/v4). `clientEnv` holds both. Nothing
 * is written outside the lab's folder; the processes are the lab's (`NetLab.destroy` stops them by pid).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LAB_INTERNET, requireCommands, waitFor, type LabProcess, type NetLab } from "./netlab";

/** Where the ACME host sits on the lab internet, and its ports. */
export const ACME_LAB = {
  address: `${LAB_INTERNET.prefix}.50`,
  /** pebble's ACME API. */
  acmePort: 14000,
  /** pebble's management API (roots), on the host's loopback only. */
  pebbleManagementPort: 15000,
  /** pebble-challtestsrv: DNS (for pebble only) and its management API, on the host's loopback only. */
  dnsPort: 8053,
  challengeManagementPort: 8055,
  /** The Cloudflare stand-in. */
  cloudflarePort: 443,
  /** The only zone the stand-in's account holds. */
  zone: "example.com",
  zoneId: "023e105f4ecef8ad9ca31a8372d0c353",
} as const;

/** One request the Cloudflare stand-in received. */
export interface CloudflareCall {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** The Authorization header as received. */
  readonly authorization?: string;
  readonly body?: { type?: string; name?: string; content?: string; ttl?: number };
  /** The HTTP status it answered. */
  readonly status: number;
}

/** The running ACME host. */
export interface AcmeLab {
  /** Its namespace. */
  readonly ns: string;
  /** The ACME directory URL (what `server` says in the delivery document). */
  readonly directoryUrl: string;
  /** The Cloudflare stand-in's API base URL. */
  readonly cloudflareApiUrl: string;
  /** PEM of the lab CA that signed both HTTPS servers. */
  readonly caBundle: string;
  /** Environment for certbot (through coturn-tls): trust the lab CA, use the stand-in, no propagation wait. */
  readonly clientEnv: Record<string, string>;
  /** Every call the stand-in received so far. */
  cloudflareCalls(): CloudflareCall[];
  /** From now on the stand-in answers every call with 403 (error 9109, invalid token), or stops doing so. */
  refuseEveryToken(refuse: boolean): void;
  /** pebble's root certificate (PEM), which issued the intermediate that signs every certificate. */
  pebbleRoot(): string;
  /** Stops pebble (by pid): the CA is unreachable from then on. */
  stopPebble(): Promise<void>;
  /** Output of pebble, the DNS server and the stand-in. */
  output(): string;
}

/** The Cloudflare API v4 stand-in (runs with `node -e`). */
const CLOUDFLARE_STANDIN = `
const https = require("node:https");
const http = require("node:http");
const fs = require("node:fs");
const [cert, key, host, port, zone, zoneId, token, challtestsrv, callsFile, refuseFile] = process.argv.slice(1);
const records = new Map();
let next = 1;
const answer = (res, status, result, errors = [], extra = {}) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ success: status === 200, errors, messages: [], result, ...extra }));
  return status;
};
const error = (res, status, code, message) => answer(res, status, null, [{ code, message }]);
const challenge = (path, body) =>
  new Promise((resolve, reject) => {
    const req = http.request(challtestsrv + path, { method: "POST" }, (r) => {
      r.resume();
      r.on("end", () => (r.statusCode === 200 ? resolve() : reject(new Error(path + " answered " + r.statusCode))));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
async function handle(req, res, url, body) {
  if (fs.existsSync(refuseFile) || req.headers.authorization !== "Bearer " + token) {
    return error(res, 403, 9109, "Invalid access token");
  }
  const q = url.searchParams;
  if (req.method === "GET" && url.pathname === "/client/v4/zones") {
    const result = q.get("name") === zone ? [{ id: zoneId, name: zone, status: "active" }] : [];
    return answer(res, 200, result, [], { result_info: { page: 1, per_page: Number(q.get("per_page") || 20), count: result.length, total_count: result.length } });
  }
  const m = /^\\/client\\/v4\\/zones\\/([^/]+)\\/dns_records(?:\\/([^/]+))?$/.exec(url.pathname);
  if (!m) return error(res, 404, 7003, "Could not route to " + url.pathname);
  if (m[1] !== zoneId) return error(res, 404, 7003, "Could not route to " + url.pathname + ", perhaps your object identifier is invalid?");
  if (req.method === "POST" && !m[2]) {
    const data = JSON.parse(body);
    if (data.type !== "TXT" || typeof data.name !== "string" || typeof data.content !== "string") return error(res, 400, 9005, "unsupported record");
    const record = { id: (next++).toString(16).padStart(32, "0"), zone_id: zoneId, zone_name: zone, type: data.type, name: data.name, content: data.content, ttl: data.ttl, proxied: false };
    records.set(record.id, record);
    await challenge("/set-txt", { host: data.name + ".", value: data.content });
    return answer(res, 200, record);
  }
  if (req.method === "GET" && !m[2]) {
    const result = [...records.values()].filter(
      (r) => (!q.get("type") || r.type === q.get("type")) && (!q.get("name") || r.name === q.get("name")) && (!q.get("content") || r.content === q.get("content")),
    );
    const perPage = Number(q.get("per_page") || 100);
    return answer(res, 200, result.slice(0, perPage), [], { result_info: { page: 1, per_page: perPage, count: Math.min(perPage, result.length), total_count: result.length } });
  }
  if (req.method === "DELETE" && m[2]) {
    const record = records.get(m[2]);
    if (!record) return error(res, 404, 81044, "Record does not exist.");
    records.delete(m[2]);
    if (![...records.values()].some((r) => r.name === record.name)) await challenge("/clear-txt", { host: record.name + "." });
    return answer(res, 200, { id: m[2] });
  }
  return error(res, 405, 10000, "Method not allowed");
}
https
  .createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", async () => {
      const url = new URL(req.url, "https://" + host);
      let status;
      try {
        status = await handle(req, res, url, body);
      } catch (e) {
        status = error(res, 500, 10000, String(e));
      }
      const call = { method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), authorization: req.headers.authorization, status };
      if (body) call.body = JSON.parse(body);
      fs.appendFileSync(callsFile, JSON.stringify(call) + "\\n");
    });
  })
  .listen(Number(port), host, () => console.log("cloudflare stand-in listening on " + host + ":" + port));
`;

function openssl(args: readonly string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Starts the ACME host `acme` on the lab internet; resolves once pebble, its DNS server and the Cloudflare stand-in
 * answer. `token` is the Cloudflare API token the stand-in accepts. Files go into `dir` (the lab's temp folder).
 */
export async function startAcmeLab(lab: NetLab, dir: string, token: string): Promise<AcmeLab> {
  requireCommands([
    ["/usr/bin/pebble", "pebble"],
    ["/usr/bin/pebble-challtestsrv", "pebble"],
    ["/usr/bin/certbot", "certbot"],
    ["/usr/lib/python3/dist-packages/certbot_dns_cloudflare/__init__.py", "python3-certbot-dns-cloudflare"],
    ["/usr/bin/jq", "jq"],
    ["/usr/bin/openssl", "openssl"],
    ["/usr/bin/curl", "curl"],
  ]);
  const ns = lab.addHost("acme");
  lab.attachToInternet(ns, "eth0", ACME_LAB.address);

  // The lab CA, and one server certificate for both HTTPS servers (they share the address).
  const caKey = join(dir, "lab-ca.key");
  const caBundle = join(dir, "lab-ca.pem");
  const serverKey = join(dir, "acme-server.key");
  const serverCsr = join(dir, "acme-server.csr");
  const serverCert = join(dir, "acme-server.pem");
  const extensions = join(dir, "acme-server.ext");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-days", "2", "-subj", "/CN=coturn-pulumi lab CA", "-keyout", caKey, "-out", caBundle]);
  openssl(["req", "-new", ...ec, "-subj", "/CN=acme lab host", "-keyout", serverKey, "-out", serverCsr]);
  writeFileSync(extensions, `subjectAltName=IP:${ACME_LAB.address},IP:127.0.0.1,DNS:api.cloudflare.com\nextendedKeyUsage=serverAuth\n`);
  openssl(["x509", "-req", "-in", serverCsr, "-CA", caBundle, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", serverCert]);
  rmSync(caKey);

  const pebbleConfig = join(dir, "pebble.json");
  writeFileSync(
    pebbleConfig,
    JSON.stringify({
      pebble: {
        listenAddress: `${ACME_LAB.address}:${ACME_LAB.acmePort}`,
        managementListenAddress: `127.0.0.1:${ACME_LAB.pebbleManagementPort}`,
        certificate: serverCert,
        privateKey: serverKey,
        httpPort: 5002,
        tlsPort: 5001,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    }),
  );
  const challtestsrv = lab.start(ns, "pebble-challtestsrv", [
    "-dns01", `127.0.0.1:${ACME_LAB.dnsPort}`,
    "-management", `127.0.0.1:${ACME_LAB.challengeManagementPort}`,
    "-http01", "", "-https01", "", "-tlsalpn01", "",
  ]);
  // No random validation sleeps, no deliberately rejected nonces, and never an authorization reused from an earlier
  // order: every issuance goes through the DNS-01 challenge (a refused Cloudflare token must make renewal fail).
  const pebble = lab.start(ns, "pebble", ["-config", pebbleConfig, "-dnsserver", `127.0.0.1:${ACME_LAB.dnsPort}`], {
    ...process.env,
    PEBBLE_VA_NOSLEEP: "1",
    PEBBLE_WFE_NONCEREJECT: "0",
    PEBBLE_AUTHZREUSE: "0",
  });
  const callsFile = join(dir, "cloudflare-calls.jsonl");
  const refuseFile = join(dir, "cloudflare-refuses");
  writeFileSync(callsFile, "");
  const cloudflare = lab.start(ns, process.execPath, [
    "-e", CLOUDFLARE_STANDIN,
    serverCert, serverKey, ACME_LAB.address, String(ACME_LAB.cloudflarePort), ACME_LAB.zone, ACME_LAB.zoneId, token,
    `http://127.0.0.1:${ACME_LAB.challengeManagementPort}`, callsFile, refuseFile,
  ]);
  const processes: Array<[string, LabProcess]> = [["pebble-challtestsrv", challtestsrv], ["pebble", pebble], ["cloudflare stand-in", cloudflare]];
  const output = (): string => processes.map(([name, p]) => `--- ${name}\n${p.output()}`).join("\n");
  await waitFor(
    "pebble, pebble-challtestsrv and the Cloudflare stand-in to listen",
    () => {
      for (const [name, p] of processes) {
        if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.output()}`);
      }
      const sockets = lab.exec(ns, "ss", "-Hlntu");
      return [
        `${ACME_LAB.address}:${ACME_LAB.acmePort}`,
        `127.0.0.1:${ACME_LAB.pebbleManagementPort}`,
        `127.0.0.1:${ACME_LAB.dnsPort}`,
        `127.0.0.1:${ACME_LAB.challengeManagementPort}`,
        `${ACME_LAB.address}:${ACME_LAB.cloudflarePort}`,
      ].every((endpoint) => sockets.includes(endpoint));
    },
    15_000,
  );
  const directoryUrl = `https://${ACME_LAB.address}:${ACME_LAB.acmePort}/dir`;
  const cloudflareApiUrl = `https://${ACME_LAB.address}/client/v4`;
  return {
    ns,
    directoryUrl,
    cloudflareApiUrl,
    caBundle,
    clientEnv: { REQUESTS_CA_BUNDLE: caBundle, CLOUDFLARE_API_URL: cloudflareApiUrl, COTURN_TLS_DNS_PROPAGATION_SECONDS: "0" },
    cloudflareCalls: () =>
      readFileSync(callsFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as CloudflareCall),
    refuseEveryToken: (refuse) => {
      if (refuse) writeFileSync(refuseFile, "");
      else if (existsSync(refuseFile)) rmSync(refuseFile);
    },
    pebbleRoot: () => lab.exec(ns, "curl", "--silent", "--show-error", "--fail", "--cacert", caBundle, `https://127.0.0.1:${ACME_LAB.pebbleManagementPort}/roots/0`),
    stopPebble: async () => {
      if (pebble.child.exitCode !== null || pebble.child.signalCode !== null) return;
      pebble.child.kill("SIGTERM");
      await pebble.exited;
    },
    output,
  };
}
