/**
 * Runtime: a real Prometheus (Debian's package) scrapes a lab TURN server as docs/alerts.md says (HTTPS to port
 * 9100 with the server's certificate and basic auth, from a host on the lab internet, as a scraper listed in
 * coturn:monitoring.allowedCidrs would) and evaluates the shipped alert rules. The quiet server fires no alert; a
 * burst of wrong credentials fires CoturnCredentialRefusals and nothing else. The rules are the shipped expressions
 * with `for:` set to 0 s, so that a test needs seconds, not the rules' minutes (promtool's unit tests in
 * test/monitoringRules.test.ts check the durations). Needs root and the Debian packages prometheus, mtail,
 * prometheus-node-exporter.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseDocument, stringify } from "yaml";
import { CLOUD_LAB, LAB_SECRET, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import { startMonitoring, type MonitoringLab } from "../lab/monitoringLab";
import { requireCommands, waitFor } from "../lab/netlab";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { METRICS_PORT } from "../src/monitoring/metricCatalog";
import { METRICS_USER } from "../src/render/monitoringFiles";

const ROOT = join(__dirname, "..");
const PASSWORD = "lab-scraper-password-0123456789abcdef";
/** Wrong-credential attempts in the burst: the rule wants more than 0.5 a second over 10 minutes, i.e. over 300. */
const BURST = 400;

interface Alert {
  labels: Record<string, string>;
  state: string;
}

describe("a real Prometheus scrapes a lab server as documented and evaluates the shipped alert rules", { timeout: 240_000 }, () => {
  let cloud: CloudLab;
  let monitoring: MonitoringLab;
  let collector: NodeJS.Timeout | undefined;
  const api = (path: string): unknown => JSON.parse(cloud.lab.exec(cloud.hosts.client, "curl", "-sfg", "--max-time", "5", `http://127.0.0.1:9090${path.replace(/"/g, "%22")}`));
  const firing = (): Alert[] => ((api("/api/v1/alerts") as { data: { alerts: Alert[] } }).data.alerts ?? []).filter((a) => a.state === "firing");

  before(async () => {
    requireCommands([["/usr/bin/prometheus", "prometheus"]]);
    cloud = await startCloudLab({ tag: `pm${process.pid}` });
    monitoring = await startMonitoring(cloud, { scraperPassword: PASSWORD });
    // The VM's collector runs every 15 s; here every second, like the scrapes.
    collector = setInterval(() => {
      try {
        monitoring.collect();
      } catch {
        // A failed run shows as stale figures, which the assertions below would see.
      }
    }, 1000);
    const dir = cloud.dir;
    const example = parseDocument(readFileSync(join(ROOT, "monitoring", "prometheus-scrape.example.yml"), "utf8")).toJS() as {
      scrape_configs: Array<Record<string, unknown> & { tls_config: Record<string, unknown>; basic_auth: Record<string, unknown>; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = example.scrape_configs[0];
    const serverName = /^server-name=(.+)$/m.exec(cloud.conf.conf)?.[1] ?? "";
    writeFileSync(join(dir, "scrape-password"), PASSWORD, { mode: 0o600 });
    job.scrape_interval = "1s";
    job.scrape_timeout = "1s";
    job.basic_auth.password_file = join(dir, "scrape-password");
    job.tls_config = { ...job.tls_config, ca_file: cloud.certificatePath, server_name: serverName };
    job.static_configs = [{ targets: [`${CLOUD_LAB.publicIp}:${METRICS_PORT}`] }];
    const rules = readFileSync(join(ROOT, "monitoring", "coturn-alerts.yml"), "utf8").replace(/^(\s+for:\s*)\S+/gm, "$10s");
    writeFileSync(join(dir, "coturn-alerts.yml"), rules);
    writeFileSync(
      join(dir, "prometheus.yml"),
      stringify({ global: { scrape_interval: "1s", evaluation_interval: "1s" }, rule_files: [join(dir, "coturn-alerts.yml")], scrape_configs: [job] }),
    );
    cloud.lab.start(cloud.hosts.client, "prometheus", [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "tsdb")}`,
      "--web.listen-address=127.0.0.1:9090",
    ]);
    await waitFor(
      "Prometheus to scrape the server",
      () => {
        try {
          const result = (api('/api/v1/query?query=up{job="coturn"}') as { data: { result: Array<{ value: [number, string] }> } }).data.result;
          return result[0]?.value[1] === "1";
        } catch {
          return false;
        }
      },
      30_000,
    ).catch((error: Error) => {
      const targets = (api("/api/v1/targets") as { data: { activeTargets: Array<{ lastError: string; health: string }> } }).data.activeTargets;
      throw new Error(`${error.message}: ${JSON.stringify(targets.map((t) => [t.health, t.lastError]))}`);
    });
  });
  after(async () => {
    if (collector) clearInterval(collector);
    await cloud?.destroy();
  });

  test("the endpoint and the SSH read path want the password: without it node-exporter answers 401", () => {
    const status = cloud.lab.exec(cloud.hosts.client, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--insecure", `https://${CLOUD_LAB.publicIp}:${METRICS_PORT}/metrics`);
    assert.equal(status, "401");
    const wrong = cloud.lab.exec(cloud.hosts.client, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--insecure", "-u", `${METRICS_USER}:wrong`, `https://${CLOUD_LAB.publicIp}:${METRICS_PORT}/metrics`);
    assert.equal(wrong, "401");
    const plain = cloud.lab.execResult(cloud.hosts.client, "curl", ["-s", "--max-time", "3", `http://${CLOUD_LAB.publicIp}:${METRICS_PORT}/metrics`]);
    assert.ok(!plain.stdout.includes("coturn_up"), "no metrics over plain HTTP");
    // The SSH read path (its forced command, run in the server's namespace) with the password on stdin, and without.
    assert.match(monitoring.metrics(), /^coturn_up 1$/m);
    const without = cloud.lab.execResult(cloud.hosts.turn, monitoring.readCommand, [], { env: monitoring.readCommandEnv, input: "" });
    assert.equal(without.status, 2);
    assert.match(without.stderr, /wants the metrics password \(coturn:metricsPassword\) on stdin/);
  });

  test("the quiet server: Prometheus has its figures and no alert fires", async () => {
    // Several evaluations with the collector's figures in (the rules' windows need two samples).
    await waitFor(
      "the collector's figures in Prometheus",
      () => (api("/api/v1/query?query=coturn_up") as { data: { result: unknown[] } }).data.result.length === 1,
      20_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // Every shipped rule is loaded and evaluated without error (so "nothing fires" means something).
    const groups = (api("/api/v1/rules") as { data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> } }).data.groups;
    const loaded = groups.flatMap((g) => g.rules);
    const shipped = [...readFileSync(join(ROOT, "monitoring", "coturn-alerts.yml"), "utf8").matchAll(/^\s+- alert: (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(loaded.map((r) => r.name).sort(), shipped.sort());
    assert.deepEqual(loaded.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`), []);
    assert.deepEqual(firing().map((a) => a.labels.alertname), []);
  });

  test(`a burst of ${BURST} wrong credentials fires CoturnCredentialRefusals, and only it`, async () => {
    const minted = mintTurnCredential({ secret: LAB_SECRET, user: "leaky-app", ttlSeconds: 600 });
    const burst = runLabJob<{ codes: Record<string, number> }>(cloud.lab, cloud.hosts.client, {
      job: "attempts",
      server: { host: CLOUD_LAB.publicIp, port: 3478 },
      transport: "udp",
      credentials: { username: minted.username, password: "a-leaked-or-expired-password" },
      count: BURST,
    });
    assert.deepEqual(burst.codes, { "401": BURST });
    let alerts: Alert[] = [];
    await waitFor(
      "CoturnCredentialRefusals to fire",
      () => {
        alerts = firing();
        return alerts.some((a) => a.labels.alertname === "CoturnCredentialRefusals");
      },
      45_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; firing: ${JSON.stringify(alerts)}; 401s: ${JSON.stringify(api('/api/v1/query?query=coturn_requests_refused_total{code="401"}'))}`);
    });
    assert.deepEqual(alerts.map((a) => a.labels.alertname), ["CoturnCredentialRefusals"]);
    assert.equal(alerts[0].labels.instance, `${CLOUD_LAB.publicIp}:${METRICS_PORT}`);
  });
});
