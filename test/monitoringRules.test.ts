/**
 * The operator-side monitoring files (monitoring/) hold together: promtool accepts the alert rules and the scrape
 * example and passes the rules' unit tests; every alert has a summary, a description and a page/warn severity; the
 * Grafana dashboard is valid JSON with unique panel ids and a query in every panel; and every metric that an alert or
 * a dashboard query reads is one the TURN servers export (src/monitoring/metricCatalog.ts, or Prometheus' `up`),
 * matched only on labels it has. The checkers are shown to fail on broken copies. promtool comes from Debian's
 * `prometheus` package; without it the test fails with the install command (nothing is skipped).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "yaml";
import { catalogProblems, expressionUse, knownLabels } from "./support/promql";

const ROOT = join(__dirname, "..");
const MONITORING = join(ROOT, "monitoring");
const RULES = join(MONITORING, "coturn-alerts.yml");
const RULE_TESTS = join(MONITORING, "coturn-alerts.test.yml");
const SCRAPE_EXAMPLE = join(MONITORING, "prometheus-scrape.example.yml");
const DASHBOARD = join(MONITORING, "grafana-dashboard.json");

/** One alerting rule as the rule file holds it. */
interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** The alerts of a rule file's text (recording rules would have no `alert` and fail the shape check). */
function alertRules(text: string): AlertRule[] {
  const file = parse(text) as { groups?: { name: string; rules?: AlertRule[] }[] };
  assert.ok(Array.isArray(file.groups) && file.groups.length > 0, "the rule file has no groups");
  return file.groups.flatMap((group) => {
    assert.ok(Array.isArray(group.rules), `group ${group.name} has no rules`);
    return group.rules;
  });
}

/** A panel of the dashboard, as far as the checks read it. */
interface Panel {
  readonly id: number;
  readonly title: string;
  readonly type: string;
  readonly targets?: { readonly expr?: string; readonly refId?: string }[];
}

/** A template variable of the dashboard. */
interface TemplateVariable {
  readonly name: string;
  readonly type: string;
  readonly query?: string | { readonly query?: string };
}

/** The parts of a dashboard the checks read. */
interface Dashboard {
  readonly schemaVersion: number;
  readonly panels: Panel[];
  readonly templating: { readonly list: TemplateVariable[] };
}

/**
 * Every PromQL query of a dashboard, named for messages: the panels' targets and the template variables' queries
 * (Grafana's `label_values(<selector>, <label>)` gives its selector, and the label must be on that selector's metric).
 */
function dashboardQueries(dashboard: Dashboard): { where: string; expr: string }[] {
  const queries: { where: string; expr: string }[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      if (target.expr !== undefined) queries.push({ where: `panel ${panel.id} "${panel.title}" ${target.refId ?? ""}`, expr: target.expr });
    }
  }
  for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
    const raw = typeof variable.query === "string" ? variable.query : variable.query?.query;
    assert.ok(raw, `variable ${variable.name} has no query`);
    const labelValues = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$/.exec(raw.trim());
    assert.ok(labelValues, `variable ${variable.name}: only label_values(<selector>, <label>) queries are checked: ${raw}`);
    const [, selector, label] = labelValues;
    queries.push({ where: `variable ${variable.name}`, expr: selector });
    for (const { metric } of expressionUse(selector).selectors) {
      assert.ok(knownLabels(metric)?.includes(label), `variable ${variable.name}: ${metric} has no label ${label}`);
    }
  }
  return queries;
}

/** Runs promtool; fails with the install command when it is missing. */
function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync("promtool", args, { encoding: "utf8", timeout: 60_000 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
    assert.fail("promtool is not installed: apt-get install -y prometheus (Debian's package provides promtool), or run scripts/test.sh");
  }
  assert.equal(run.error, undefined, `promtool ${args.join(" ")}: ${String(run.error)}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

const rulesText = readFileSync(RULES, "utf8");
const alerts = alertRules(rulesText);
const scratch = mkdtempSync(join(tmpdir(), "coturn-rules-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("alert rules", () => {
  test("promtool check rules accepts the rule file", () => {
    const run = promtool("check", "rules", RULES);
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, new RegExp(`SUCCESS: ${alerts.length} rules found`));
  });

  test("promtool test rules passes every unit test, and the tests cover every alert", () => {
    const run = promtool("test", "rules", RULE_TESTS);
    assert.equal(run.status, 0, run.output);
    const tests = parse(readFileSync(RULE_TESTS, "utf8")) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      assert.ok(
        cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0),
        `${alert} has no unit test in which it fires (monitoring/coturn-alerts.test.yml)`,
      );
    }
  });

  test("the unit tests can fail: a rule with its 401 threshold lowered fails them (the near miss fires)", () => {
    const broken = rulesText.replace('code="401"}[10m])) > 0.5', 'code="401"}[10m])) > 0.45');
    assert.notEqual(broken, rulesText, "the mutation did not apply: update this test with the rule");
    writeFileSync(join(scratch, "coturn-alerts.yml"), broken);
    copyFileSync(RULE_TESTS, join(scratch, "coturn-alerts.test.yml"));
    const run = promtool("test", "rules", join(scratch, "coturn-alerts.test.yml"));
    assert.notEqual(run.status, 0, "promtool passed a rule whose threshold was moved: the near-miss series do not bite");
    assert.match(run.output, /CoturnCredentialRefusals/);
  });

  test("every alert has a summary, a description and a page or warn severity", () => {
    const names = new Set<string>();
    for (const rule of alerts) {
      assert.ok(rule.alert && !names.has(rule.alert), `alert name ${rule.alert} missing or repeated`);
      names.add(rule.alert);
      assert.ok(rule.annotations?.summary?.trim(), `${rule.alert} has no summary`);
      assert.ok((rule.annotations?.description?.trim().length ?? 0) > 40, `${rule.alert} has no description worth reading`);
      assert.ok(["page", "warn"].includes(rule.labels?.severity ?? ""), `${rule.alert}: severity is ${rule.labels?.severity}, not page or warn`);
    }
  });

  test("every alert's `for` and threshold is justified by a comment line above it", () => {
    const lines = rulesText.split("\n");
    for (const rule of alerts) {
      const at = lines.findIndex((line) => line.trim() === `- alert: ${rule.alert}`);
      assert.ok(at >= 0 && lines[at + 1].trim().startsWith("#"), `${rule.alert} has no comment saying why its threshold and for`);
    }
  });

  test("every alert reads only catalog metrics (or up), on labels they have", () => {
    for (const rule of alerts) {
      assert.ok(expressionUse(rule.expr).selectors.length > 0, `${rule.alert}: no metric found in ${rule.expr}`);
      assert.deepEqual(catalogProblems(rule.expr), [], `${rule.alert}: ${rule.expr}`);
    }
  });

  test("the checker catches a broken copy: an unknown metric and a label the metric does not have", () => {
    const broken = rulesText
      .replace("coturn_relay_ports_in_use /", "coturn_relay_ports_used /")
      .replace('coturn_requests_refused_total{code="486"}', 'coturn_requests_refused_total{reason="486"}');
    assert.notEqual(broken, rulesText, "the mutations did not apply: update this test with the rule file");
    const problems = alertRules(broken).flatMap((rule) => catalogProblems(rule.expr));
    assert.ok(problems.some((p) => p.startsWith("coturn_relay_ports_used is not in METRIC_CATALOG")), problems.join("\n"));
    assert.ok(problems.some((p) => p.startsWith("coturn_requests_refused_total has no label reason")), problems.join("\n"));
  });
});

describe("the PromQL reader", () => {
  test("finds metrics and skips functions, keywords, grouping labels, ranges, durations, strings and variables", () => {
    const use = expressionUse(
      'histogram_quantile(0.9, sum by (le) (rate(coturn_session_duration_seconds_bucket{instance=~"$instance", job!="x"}[$__rate_interval] offset 5m)))' +
        ' > bool on (job, instance) group_left (le) 1e3 * max_over_time(node_nf_conntrack_entries[1h:5m]) # sum(not_a_metric)\n' +
        ' or label_replace(vector(0), "dst", "coturn_up", "src", "(.*)") unless {__name__="up", job="coturn"}',
    );
    assert.deepEqual(use.selectors, [
      { metric: "coturn_session_duration_seconds_bucket", labels: ["instance", "job"] },
      { metric: "node_nf_conntrack_entries", labels: [] },
      { metric: "up", labels: ["job"] },
    ]);
    assert.deepEqual(use.groupingLabels, ["le", "job", "instance", "le"]);
  });

  test("reports unknown metrics, unknown labels and grouping labels on no metric", () => {
    assert.deepEqual(catalogProblems('sum by (transport) (rate(coturn_listener_bytes_total{transport="relay"}[5m]))'), []);
    assert.deepEqual(catalogProblems("coturn_session_duration_seconds_count"), []);
    assert.deepEqual(catalogProblems('coturn_up{code="401"}'), ["coturn_up has no label code (it has: job, instance)"]);
    assert.deepEqual(catalogProblems("coturn_session_duration_seconds"), [
      "coturn_session_duration_seconds is not in METRIC_CATALOG (src/monitoring/metricCatalog.ts)",
    ]);
    assert.deepEqual(catalogProblems("sum by (device) (coturn_up)"), ["grouping label device is on no metric of the expression"]);
    assert.throws(() => expressionUse('{job="coturn"}'), /without a metric name/);
  });
});

describe("Grafana dashboard", () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as Dashboard;

  test("has unique panel ids, a query in every panel, and the datasource and instance variables", () => {
    assert.ok(dashboard.schemaVersion >= 36 && dashboard.schemaVersion <= 41, `schemaVersion ${dashboard.schemaVersion}`);
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `repeated panel ids: ${ids.join(", ")}`);
    for (const panel of dashboard.panels) {
      assert.ok((panel.targets ?? []).some((t) => (t.expr ?? "").trim() !== ""), `panel ${panel.id} "${panel.title}" has no query`);
    }
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v.type]));
    assert.equal(variables.get("datasource"), "datasource");
    assert.equal(variables.get("instance"), "query");
  });

  test("every query reads only catalog metrics (or up), on labels they have", () => {
    const queries = dashboardQueries(dashboard);
    assert.ok(queries.length >= dashboard.panels.length);
    for (const { where, expr } of queries) {
      assert.ok(expressionUse(expr).selectors.length > 0, `${where}: no metric found in ${expr}`);
      assert.deepEqual(catalogProblems(expr), [], `${where}: ${expr}`);
    }
  });

  test("the checker catches a broken copy of the dashboard", () => {
    const broken = JSON.parse(
      readFileSync(DASHBOARD, "utf8").replace("node_nf_conntrack_entries_limit", "node_nf_conntrack_max"),
    ) as Dashboard;
    const problems = dashboardQueries(broken).flatMap(({ expr }) => catalogProblems(expr));
    assert.deepEqual(problems, ["node_nf_conntrack_max is not in METRIC_CATALOG (src/monitoring/metricCatalog.ts)"]);
  });
});

describe("scrape example", () => {
  test("promtool check config accepts it, and it loads the rules over https with basic auth and a server name", () => {
    const run = promtool("check", "config", SCRAPE_EXAMPLE);
    assert.equal(run.status, 0, run.output);
    const config = parse(readFileSync(SCRAPE_EXAMPLE, "utf8")) as {
      rule_files: string[];
      scrape_configs: {
        job_name: string;
        scheme: string;
        basic_auth: { username: string; password_file?: string; password?: string };
        tls_config: { server_name: string };
        static_configs: { targets: string[] }[];
      }[];
    };
    assert.deepEqual(config.rule_files, ["coturn-alerts.yml"]);
    const [job] = config.scrape_configs;
    assert.equal(job.job_name, "coturn", 'the rules filter up and node_* on job="coturn"');
    assert.equal(job.scheme, "https");
    assert.equal(job.basic_auth.username, "prometheus");
    assert.ok(job.basic_auth.password_file && job.basic_auth.password === undefined, "the password comes from a file, never inline");
    assert.ok(job.tls_config.server_name);
    assert.ok(job.static_configs.flatMap((s) => s.targets).every((t) => t.endsWith(":9100")));
  });
});
