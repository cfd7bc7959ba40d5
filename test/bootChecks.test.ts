/**
 * The boot checks (lab/boot/checks.ts) and the boot image's recipe, on text: each check passes what a good VM shows
 * and fails, naming the problem, on what a broken one shows. Fast; the boots themselves are in boot.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import {
  cloudInitCheck,
  configReadCheck,
  dropInCheck,
  dropInProperties,
  expectedFiles,
  expectedOpsFiles,
  failedUnitsCheck,
  filesCheck,
  kernelSettingRows,
  openFilesCheck,
  privateKeyLines,
  secretsCheck,
  serviceCheck,
  sysctlFile,
} from "../lab/boot/checks";
import { IMAGE_RECIPE, mirrorFromAptSources, recipeHash } from "../lab/boot/imageRecipe";
import {
  accountingCheck,
  closedToWorldCheck,
  forcedCommandCheck,
  journaldCheck,
  loopbackOnlyCheck,
  metricsReadCheck,
  opsDeliveryCheck,
  parsePrometheusText,
  rateLimitsCheck,
  sampleValue,
  unitsCheck,
  type ExpectedFigure,
} from "../lab/boot/opsChecks";
import { MONITORING_PATHS } from "../src/render/monitoringFiles";
import { RATE_LIMIT_NAMES } from "../src/render/rateLimitFiles";
import { exampleStackConfig } from "./support/program";
import { networkConfig } from "../lab/boot/seed";
import { userDataOnVm } from "../src/clouds/userData";
import { everyVmPackage } from "../src/render/vmFiles";
import { gunzipSync } from "node:zlib";
import { parse } from "yaml";
import { productionVm, vmFile } from "../lab/cloudLab";

const DROP_IN = "/etc/systemd/system/coturn.service.d/10-coturn-pulumi.conf";

test("cloud-init: done and a clean log pass; an error status or a warning in the log fail", () => {
  assert.equal(cloudInitCheck("status: done\ndetail:\nDataSourceNoCloud\n", "2026 - util.py[DEBUG]: fine\n").status, "ok");
  const failedStatus = cloudInitCheck("status: error\ndetail:\n('scripts-user', RuntimeError('Runparts: 1 failures'))\n", "");
  assert.equal(failedStatus.status, "FAIL");
  assert.match(failedStatus.detail, /status error.*scripts-user/);
  const warned = cloudInitCheck("status: done\n", "2026-11-22 04:08:56,071 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user\n");
  assert.equal(warned.status, "FAIL");
  assert.match(warned.detail, /Failed to run module scripts-user/);
});

test("files: every rendered file root:root with its mode, coturn's config, certificate and key root:turnserver 640", () => {
  const vm = productionVm("aws-example");
  const expected = expectedFiles(vm);
  assert.ok(expected.some((f) => f.path === "/etc/turnserver.conf" && f.group === "turnserver" && f.mode === "640"));
  assert.ok(expected.some((f) => f.path === "/etc/sudoers.d/coturn-deploy" && f.owner === "root" && f.mode === "440"));
  assert.ok(expected.some((f) => f.path === "/usr/local/sbin/coturn-bootstrap" && f.mode === "755"));
  assert.equal(expected.filter((f) => vm.files.some((v) => v.path === f.path)).length, vm.files.length, "every rendered file is checked");
  const good = expected.map((f) => `${f.path} ${f.owner} ${f.group} ${f.mode}`).join("\n");
  assert.equal(filesCheck(expected, good).status, "ok");
  const loose = good.replace("/etc/turnserver.conf root turnserver 640", "/etc/turnserver.conf root root 644");
  assert.match(filesCheck(expected, loose).detail, /\/etc\/turnserver\.conf is root:root 644, not root:turnserver 640/);
  const missing = good.split("\n").filter((l) => !l.startsWith(DROP_IN)).join("\n");
  assert.match(filesCheck(expected, missing).detail, /10-coturn-pulumi\.conf is missing/);
});

test("coturn's journal: a start that could not read its config, or ran another one, fails", () => {
  const good = "Nov 22 aws turnserver[100]: 0: : Listener address to use: 10.77.0.10\nNov 22 aws turnserver[200]: 0: : Listener address to use: 10.77.0.10\n";
  assert.equal(configReadCheck(good, ["10.77.0.10"]).status, "ok");
  assert.match(configReadCheck(good, ["10.77.0.10"]).detail, /2 start/);
  const unreadable = `${good}Nov 22 aws turnserver[300]: 0: : WARNING: Cannot find config file: /etc/turnserver.conf. Default and command-line settings will be used.\n`;
  assert.match(configReadCheck(unreadable, ["10.77.0.10"]).detail, /coturn 300 could not read its config.*open relay/);
  assert.match(configReadCheck("Nov 22 aws turnserver[400]: 0: : Relay ports initialization done\n", ["10.77.0.10"]).detail, /400 logged no listener address/);
  assert.match(configReadCheck(good, ["10.19.0.5"]).detail, /listened on 10\.77\.0\.10, which the rendered config does not name/);
  assert.equal(configReadCheck("", ["10.77.0.10"]).status, "FAIL");
});

test("the drop-in: every setting it makes must be what systemd shows", () => {
  const dropIn = vmFile(productionVm("aws-example"), DROP_IN);
  assert.deepEqual(dropInProperties(dropIn), [
    "DropInPaths",
    "StartLimitIntervalUSec",
    "ConditionResult",
    "Restart",
    "RestartUSec",
    "LimitNOFILE",
    "ExecReload",
    "LogRateLimitIntervalUSec",
    "LogRateLimitBurst",
  ]);
  const good = [
    `DropInPaths=${DROP_IN}`,
    "StartLimitIntervalUSec=0",
    "ConditionResult=yes",
    "Restart=always",
    "RestartUSec=2s",
    "LimitNOFILE=1048576",
    "ExecReload={ path=/bin/kill ; argv[]=/bin/kill -USR2 $MAINPID ; ignore_errors=no }",
    "LogRateLimitIntervalUSec=30s",
    "LogRateLimitBurst=30000",
  ].join("\n");
  assert.equal(dropInCheck(DROP_IN, dropIn, good).status, "ok");
  // The Debian package's own unit, as systemd shows it without the drop-in.
  const packaged =
    "DropInPaths=\nStartLimitIntervalUSec=10s\nConditionResult=yes\nRestart=on-failure\nRestartUSec=100ms\nLimitNOFILE=524288\nExecReload=\nLogRateLimitIntervalUSec=0\nLogRateLimitBurst=0\n";
  const failed = dropInCheck(DROP_IN, dropIn, packaged);
  assert.equal(failed.status, "FAIL");
  for (const problem of [
    "does not load",
    "Restart is on-failure, not always",
    "RestartUSec is 100ms, not 2s",
    "LimitNOFILE is 524288",
    "ExecReload is unset",
    "LogRateLimitIntervalUSec is 0, not 30s",
    "LogRateLimitBurst is 0, not 30000",
  ]) {
    assert.ok(failed.detail.includes(problem), `${problem} in ${failed.detail}`);
  }
});

test("open files: the unit's limit, or the host's cap in a container (said, not passed), anything else fails", () => {
  const limits = (soft: number, hard: number): string => `Limit  Soft Limit  Hard Limit  Units\nMax open files            ${soft}                ${hard}                files\n`;
  assert.equal(openFilesCheck(1048576, limits(1048576, 1048576), 1048576).status, "ok");
  const capped = openFilesCheck(1048576, limits(20000, 20000), 20000);
  assert.equal(capped.status, "not here");
  assert.match(capped.detail, /host's own hard limit/);
  assert.equal(openFilesCheck(1048576, limits(1024, 524288), 20000).status, "FAIL");
});

test("kernel settings: in effect is ok; in a container, unset and named by the bootstrap is 'not here'; otherwise FAIL", () => {
  const settings = sysctlFile(vmFile(productionVm("aws-example"), "/etc/sysctl.d/60-coturn-relay.conf"));
  assert.deepEqual(settings.map((s) => s.key), ["net.core.rmem_max", "net.core.wmem_max", "net.core.netdev_max_backlog", "net.ipv4.ip_local_reserved_ports"]);
  const inEffect = settings.map(({ key, value }) => ({ key, wanted: value, actual: value }));
  assert.ok(kernelSettingRows(inEffect, false, "").every((r) => r.status === "ok"));
  const unset = settings.map(({ key, value }) => ({ key, wanted: value, actual: key.includes("backlog") ? undefined : "" }));
  const named = unset.map((s) => `coturn-bootstrap: WARNING: kernel setting ${s.key} is '', not '${s.wanted}'`).join("\n");
  assert.ok(kernelSettingRows(unset, true, named).every((r) => r.status === "not here"));
  assert.ok(kernelSettingRows(unset, true, "").every((r) => r.status === "FAIL"), "unnamed by the bootstrap: a silent gap");
  assert.ok(kernelSettingRows(unset, false, named).every((r) => r.status === "FAIL"), "on a VM every setting must be in effect");
});

test("secrets: a secret or a key line in the console fails; fingerprints and public keys are fine", () => {
  const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBoZWxsbyB3b3JsZCBoZWxsbyB3b3JsZCBoZWxsbyB3b3Js\n-----END OPENSSH PRIVATE KEY-----\n";
  const secrets = { "TURN secret": ["Zm9vYmFyYmF6cXV4LXNlY3JldC12YWx1ZS0xMjM0"], "SSH host private key": privateKeyLines(key) };
  assert.equal(privateKeyLines(key).length, 2);
  const clean = "ci-info: ssh-ed25519 AAAAC3Nza... fingerprint SHA256:abc\ncoturn-secrets: accepted f0a2fb80ac069907\n";
  assert.equal(secretsCheck({ console: clean }, secrets).status, "ok");
  assert.match(secretsCheck({ console: `${clean}Zm9vYmFyYmF6cXV4LXNlY3JldC12YWx1ZS0xMjM0\n` }, secrets).detail, /console shows the TURN secret/);
  assert.match(secretsCheck({ log: `x ${privateKeyLines(key)[1]} y` }, secrets).detail, /log shows the SSH host private key/);
  assert.match(secretsCheck({ log: "-----BEGIN RSA PRIVATE KEY-----" }, secrets).detail, /PEM private key/);
});

test("units: coturn active and enabled; a failed unit, even one that recovered, fails", () => {
  assert.equal(serviceCheck("active\n", "enabled\n").status, "ok");
  assert.match(serviceCheck("activating\n", "disabled\n").detail, /activating, not active.*disabled at boot/);
  assert.equal(failedUnitsCheck("", "[  OK  ] Started coturn.service\n").status, "ok");
  assert.match(failedUnitsCheck("cloud-final.service loaded failed failed Execute cloud user/final scripts\n", "").detail, /cloud-final\.service is failed/);
  assert.match(failedUnitsCheck("", "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39mcoturn.service\x1b[0m - coTURN\n").detail, /coturn\.service failed to start once/);
});

test("boot image: the recipe caches every package any VM installs, and its hash follows the recipe and the builder", () => {
  assert.deepEqual([...IMAGE_RECIPE.cachedPackages].sort(), [...everyVmPackage()].sort());
  assert.ok(everyVmPackage().includes("coturn") && everyVmPackage().includes("certbot") && everyVmPackage().includes("curl"));
  const hash = recipeHash();
  assert.match(hash, /^[0-9a-f]{16}$/);
  assert.equal(recipeHash(), hash, "stable");
  assert.notEqual(recipeHash({ ...IMAGE_RECIPE, cachedPackages: [...IMAGE_RECIPE.cachedPackages, "htop"] }), hash);
  assert.notEqual(recipeHash(IMAGE_RECIPE, "another builder"), hash);
});

test("boot image: the mirror comes from apt's sources (deb822 or one-line), Debian's CDN otherwise", () => {
  const deb822 = "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
  assert.equal(mirrorFromAptSources([deb822]), "http://mirror.example/debian");
  assert.equal(mirrorFromAptSources(["deb [arch=amd64] http://ftp.example/debian bookworm main\n"]), "http://ftp.example/debian");
  assert.equal(mirrorFromAptSources(["deb http://archive.ubuntu.com/ubuntu noble main\n"]), "http://deb.debian.org/debian");
});

test("seed: EC2 gets the user-data gzipped, the others as text; network-config gives addresses and the gateway", () => {
  const userData = productionVm("aws-example").userData;
  assert.equal(gunzipSync(userDataOnVm("aws", userData)).toString("utf8"), userData);
  assert.equal(userDataOnVm("gcp", userData).toString("utf8"), userData);
  assert.deepEqual(parse(networkConfig({ eth0: { addresses: ["10.77.0.10/24"], gateway: "10.77.0.1" }, meta0: { addresses: ["169.254.0.2/16"] } })), {
    version: 2,
    ethernets: { eth0: { addresses: ["10.77.0.10/24"], gateway4: "10.77.0.1" }, meta0: { addresses: ["169.254.0.2/16"] } },
  });
  // A virtual machine names its NICs itself: matched by MAC address and renamed.
  assert.deepEqual(parse(networkConfig({ meta0: { addresses: ["169.254.0.2/16"] } }, { meta0: "52:54:00:b0:07:02" })).ethernets.meta0, {
    match: { macaddress: "52:54:00:b0:07:02" },
    "set-name": "meta0",
    addresses: ["169.254.0.2/16"],
  });
});

test("npm run boot-test refuses a bad command line or a stack that boots no VM, with exit 2 and the fix", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "..", "scripts", "bootTest.ts"), ...args], { encoding: "utf8", timeout: 60_000 });
  const noStack = run();
  assert.equal(noStack.status, 2);
  assert.match(noStack.stderr, /--stack is required .*--stack aws-example/);
  const global = run("--stack", "global-example");
  assert.equal(global.status, 2);
  assert.match(global.stderr, /coturn:cloud global, which boots no VM\. Pass a region stack/);
  const local = run("--stack", "local");
  assert.equal(local.status, 2);
  assert.match(local.stderr, /coturn:cloud local/);
  const unknown = run("--stack", "no-such-stack");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Pulumi\.no-such-stack\.yaml: no such stack file/);
  const flag = run("--stack", "aws-example", "--frobnicate");
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /frobnicate[\s\S]*usage: sudo npm run boot-test/);
});

const SHA = "c192ee21f49b0123456789abcdef0123456789abcdef0123456789abcdef0123";

test("operations delivery: the document sent, all files written on a fresh VM, none on a repeat, coturn untouched", () => {
  const ran = (stdout: string, before = "2806", after = "2806") => ({ status: 0, stdout, stderr: "", coturnPid: { before, after } });
  const first = opsDeliveryCheck("delivered", ran(`{"files":16,"changed":16,"sha256":"${SHA}"}\n`), { files: 16, sha256: SHA }, 16);
  assert.equal(first.status, "ok");
  assert.match(first.detail, /wrote 16 of 16 files.*coturn kept running \(pid 2806\)/);
  assert.equal(opsDeliveryCheck("again", ran(`{"files":16,"changed":0,"sha256":"${SHA}"}`), { files: 16, sha256: SHA }, 0).status, "ok");
  assert.match(opsDeliveryCheck("again", ran(`{"files":16,"changed":3,"sha256":"${SHA}"}`), { files: 16, sha256: SHA }, 0).detail, /wrote 3 files, expected 0/);
  assert.match(opsDeliveryCheck("d", ran(`{"files":16,"changed":16,"sha256":"${SHA.replace("c1", "00")}"}`), { files: 16, sha256: SHA }, 16).detail, /not the one sent/);
  assert.match(opsDeliveryCheck("d", ran(`{"files":15,"changed":15,"sha256":"${SHA}"}`), { files: 16, sha256: SHA }, 15).detail, /counted 15 files, 16 were sent/);
  assert.match(opsDeliveryCheck("d", ran(`{"files":16,"changed":16,"sha256":"${SHA}"}`, "2806", "2901"), { files: 16, sha256: SHA }, 16).detail, /restarted or stopped coturn/);
  assert.match(opsDeliveryCheck("d", ran("coturn-ops: ERROR: refusing the whole set"), { files: 16, sha256: SHA }, 16).detail, /printed no JSON result/);
  const refused = opsDeliveryCheck("d", { status: 1, stdout: "", stderr: "coturn-ops: ERROR: refusing the whole set: /etc/shadow is not an operations file\n", coturnPid: { before: "1", after: "1" } }, { files: 16, sha256: SHA }, 16);
  assert.equal(refused.status, "FAIL");
  assert.match(refused.detail, /ssh exited 1: coturn-ops: ERROR: refusing/);
});

test("operations files: root-owned with their rendered group and mode", () => {
  const expected = expectedOpsFiles(productionVm("aws-example"));
  assert.ok(expected.some((f) => f.path === "/etc/systemd/system/coturn-tls-renew.timer" && f.group === "root" && f.mode === "644"));
  assert.ok(expected.some((f) => f.path === "/usr/local/sbin/coturn-metrics" && f.mode === "755"));
  const good = expected.map((f) => `${f.path} ${f.owner} ${f.group} ${f.mode}`).join("\n");
  assert.equal(filesCheck(expected, good, "operations files").status, "ok");
  assert.match(filesCheck(expected, good.replace("/usr/local/sbin/coturn-metrics root root 755", "/usr/local/sbin/coturn-metrics root root 777"), "operations files").detail, /coturn-metrics is root:root 777, not root:root 755/);
});

test("units: every monitoring unit active and enabled; an inactive or disabled one fails", () => {
  const units = ["coturn-tls-renew.timer", "coturn-log-metrics.service"].map((unit) => ({ unit, active: "active\n", enabled: "enabled\n" }));
  assert.equal(unitsCheck("units", units).status, "ok");
  const broken = unitsCheck("units", [{ unit: "coturn-log-metrics.service", active: "activating\n", enabled: "disabled\n" }, { unit: "coturn-tls-renew.timer", active: "inactive\n", enabled: "\n" }]);
  assert.equal(broken.status, "FAIL");
  assert.match(broken.detail, /coturn-log-metrics\.service is activating, not active.*disabled at boot.*coturn-tls-renew\.timer is inactive.*unknown at boot/);
  assert.match(failedUnitsCheck("coturn-metrics-collect.service loaded failed failed coturn metrics\n", "", "after the delivery").detail, /coturn-metrics-collect\.service is failed/);
});

test("metrics ports: loopback only inside; an extra address, a missing listener or an answer from the world fails", () => {
  const services = [{ name: "node-exporter", port: 9100 }, { name: "mtail", port: 3903 }];
  const ss = "udp   UNCONN 0 0 10.77.0.10:3478 0.0.0.0:*\ntcp   LISTEN 0 4096 127.0.0.1:9100 0.0.0.0:*\ntcp   LISTEN 0 4096 127.0.0.1:3903 0.0.0.0:*\ntcp   LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n";
  assert.equal(loopbackOnlyCheck(ss, services).status, "ok");
  // The package's own settings: every address.
  const packaged = loopbackOnlyCheck(ss.replace("127.0.0.1:9100", "*:9100"), services);
  assert.equal(packaged.status, "FAIL");
  assert.match(packaged.detail, /node-exporter does not listen on 127\.0\.0\.1:9100; node-exporter's port 9100 is also open on tcp \*:9100/);
  assert.match(loopbackOnlyCheck(`${ss}tcp LISTEN 0 4096 [::]:3903 [::]:*\n`, services).detail, /mtail's port 3903 is also open on tcp \[::\]:3903/);
  assert.equal(closedToWorldCheck("11.0.0.10", [{ port: 9100, exit: 7, stdout: "" }, { port: 3903, exit: 28, stdout: "" }]).status, "ok");
  const open = closedToWorldCheck("11.0.0.10", [{ port: 9100, exit: 0, stdout: "# HELP go_gc_duration_seconds …\n" }], "before");
  assert.equal(open.check, "before");
  assert.match(open.detail, /11\.0\.0\.10:9100 answered from the internet \(curl exit 0: # HELP go_gc/);
  assert.equal(closedToWorldCheck("11.0.0.10", [{ port: 9100, exit: 52, stdout: "" }]).status, "FAIL", "an empty reply is an answer");
});

/** `nft list table inet coturn_accounting` with the given packets and bytes for the echo's two counters, others apart. */
function nftListing(echoed: { packets: number; bytes: number }, others = { packets: 0, bytes: 0 }, names = COUNTERS): string {
  const counter = (name: string) => {
    const c = name === "relay_in" || name === "udp_in" ? echoed : others;
    return `\tcounter ${name} {\n\t\tpackets ${c.packets} bytes ${c.bytes}\n\t}\n`;
  };
  return `table inet coturn_accounting {\n${names.map(counter).join("")}\tchain count_in {\n\t}\n}\n`;
}
const COUNTERS = ["relay", "udp", "tcp", "tls", "dtls"].map((n) => `${n}_in`);

test("kernel counters: all loaded and the listener's and the relay's grew by the echo; not loaded, missing or not counting fails", () => {
  const echo = { packets: 1, payloadBytes: 1000 };
  const ok = accountingCheck(nftListing({ packets: 0, bytes: 0 }), nftListing({ packets: 1, bytes: 1028 }, { packets: 7, bytes: 1796 }), COUNTERS, echo);
  assert.equal(ok.status, "ok");
  assert.match(ok.detail, /5 counters.*udp_in \+1 packets \+1028 bytes, relay_in \+1 packets \+1028 bytes/);
  assert.match(accountingCheck("", "", COUNTERS, echo).detail, /no counter in table inet coturn_accounting/);
  assert.match(accountingCheck(nftListing({ packets: 5, bytes: 5000 }), nftListing({ packets: 5, bytes: 5000 }), COUNTERS, echo).detail, /udp_in grew by 0 packets and 0 bytes; the echo sent 1 of 1000 bytes through it/);
  const missing = accountingCheck("", nftListing({ packets: 1, bytes: 1028 }, undefined, COUNTERS.filter((n) => n !== "dtls_in")), COUNTERS, echo);
  assert.match(missing.detail, /counter dtls_in is missing/);
});

const PAGE = [
  "# HELP coturn_up 1 when a turnserver process runs, else 0.",
  "# TYPE coturn_up gauge",
  "coturn_up 1",
  "coturn_log_metrics_up 1",
  'coturn_allocations_created_total{transport="plain"} 1',
  'coturn_requests_refused_total{code="401"} 1',
  'node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5',
  "",
].join("\n");
const FIGURES: ExpectedFigure[] = [
  { name: "coturn_up", value: 1, why: "coturn runs" },
  { name: "coturn_log_metrics_up", value: 1, why: "mtail reads the journal" },
  { name: "coturn_allocations_created_total", labels: { transport: "plain" }, value: 1, why: "one allocation" },
  { name: "coturn_requests_refused_total", labels: { code: "401" }, value: 1, why: "one wrong secret" },
];

test("metrics over SSH: exactly the figures of what the boot did; off by one, absent or no host figures fails", () => {
  assert.equal(sampleValue(parsePrometheusText(PAGE), "node_cpu_seconds_total", { mode: "idle" }), 1234.5);
  const ran = (stdout: string) => ({ status: 0, stdout, stderr: "" });
  const ok = metricsReadCheck(ran(PAGE), FIGURES, 3000);
  assert.equal(ok.status, "ok");
  assert.match(ok.detail, /coturn_allocations_created_total\{plain\} 1, coturn_requests_refused_total\{401\} 1, node_cpu_seconds_total present/);
  // A wrong attempt counted twice (a retry), the challenge counted as a refusal: not what was done.
  const twice = metricsReadCheck(ran(PAGE.replace('{code="401"} 1', '{code="401"} 2')), FIGURES, 40_000);
  assert.equal(twice.status, "FAIL");
  assert.match(twice.detail, /coturn_requests_refused_total\{code="401"\} is 2, not 1 \(one wrong secret\).*after 40 s/);
  assert.match(metricsReadCheck(ran(PAGE.replace("coturn_log_metrics_up 1", "coturn_log_metrics_up 0")), FIGURES, 40_000).detail, /coturn_log_metrics_up is 0, not 1/);
  assert.match(metricsReadCheck(ran(PAGE.replace(/^coturn_allocations.*$/m, "")), FIGURES, 40_000).detail, /coturn_allocations_created_total\{transport="plain"\} is absent/);
  assert.match(metricsReadCheck(ran(PAGE.replace(/^node_cpu.*$/m, "")), FIGURES, 40_000).detail, /no node_cpu_seconds_total/);
  assert.match(metricsReadCheck({ status: 255, stdout: "", stderr: "Permission denied (publickey).\n" }, FIGURES, 0).detail, /ssh exited 255: Permission denied/);
  assert.match(metricsReadCheck(ran("curl: (7) Failed to connect to 127.0.0.1 port 9100\n"), FIGURES, 40_000).detail, /no Prometheus samples/);
});

test("the metrics read key: another command still prints metrics only", () => {
  assert.equal(forcedCommandCheck("cat /etc/shadow", { status: 0, stdout: PAGE, stderr: "" }).status, "ok");
  const shell = forcedCommandCheck("cat /etc/shadow", { status: 0, stdout: "root:*:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\n", stderr: "" });
  assert.equal(shell.status, "FAIL");
  assert.match(shell.detail, /printed no metrics.*passwd or shadow lines/);
});

test("journald: coturn's rate limit as the drop-in says and the journal's caps read by journald", () => {
  const vm = productionVm("aws-example");
  const dropIn = vmFile(vm, DROP_IN);
  const journald = vmFile(vm, MONITORING_PATHS.journaldLimits);
  const show = "LogRateLimitIntervalUSec=30s\nLogRateLimitBurst=30000\n";
  const catConfig = `# /etc/systemd/journald.conf\n[Journal]\n#Storage=auto\n\n# ${MONITORING_PATHS.journaldLimits}\n${journald}`;
  const ok = journaldCheck(dropIn, show, MONITORING_PATHS.journaldLimits, journald, catConfig);
  assert.equal(ok.status, "ok");
  assert.match(ok.detail, /LogRateLimitIntervalUSec=30s LogRateLimitBurst=30000.*SystemMaxUse=512M/);
  // systemd's defaults: no rate limit of coturn's own.
  assert.match(journaldCheck(dropIn, "LogRateLimitIntervalUSec=30s\nLogRateLimitBurst=10000\n", MONITORING_PATHS.journaldLimits, journald, catConfig).detail, /LogRateLimitBurst is 10000, not 30000/);
  assert.match(journaldCheck(dropIn, show, MONITORING_PATHS.journaldLimits, journald, "# /etc/systemd/journald.conf\n[Journal]\n").detail, /does not include \/etc\/systemd\/journald\.conf\.d\/60-coturn-pulumi\.conf/);
  const edited = catConfig.replace("SystemMaxUse=512M", "SystemMaxUse=4G");
  assert.match(journaldCheck(dropIn, show, MONITORING_PATHS.journaldLimits, journald, edited).detail, /lacks SystemMaxUse=512M/);
});

test("per-source limits: the rendered numbers loaded and nothing dropped; not loaded, another number, or a drop fails", () => {
  const limits = exampleStackConfig("aws-example").rateLimits;
  const listing = (dropped = 0, udpBurst = limits.udpRequestsBurst): string =>
    [
      "table inet coturn_limits {",
      ...RATE_LIMIT_NAMES.map((name) => `\tcounter ${name}_dropped {\n\t\tpackets ${name === "udp_requests" ? dropped : 0} bytes 0\n\t}`),
      `\t\tupdate @udp_requests { ip saddr limit rate over ${limits.udpRequestsPerSecond}/second burst ${udpBurst} packets } goto udp_requests_over`,
      `\t\tupdate @tcp_new_connections { ip saddr limit rate over ${limits.tcpNewConnectionsPerSecond}/second burst ${limits.tcpNewConnectionsBurst} packets } goto tcp_new_connections_over`,
      `\t\tadd @tcp_connections { ip saddr ct count over ${limits.tcpConnectionsPerSource} } goto tcp_connections_over`,
      `\t\ttcp dport 22 update @ssh_new_connections { ip saddr limit rate over ${limits.sshNewConnectionsPerMinute}/minute burst ${limits.sshNewConnectionsPerMinute} packets } goto ssh_new_connections_over`,
      "}",
    ].join("\n");
  const ok = rateLimitsCheck(listing(), limits);
  assert.equal(ok.status, "ok", ok.detail);
  assert.match(ok.detail, /200 requests\/s \(burst 2000\), 1000 connections, 50 new\/s, SSH 20\/min; 0 dropped/);
  assert.match(rateLimitsCheck("", limits).detail, /table inet coturn_limits is not loaded/);
  assert.match(rateLimitsCheck(listing(0, 99), limits).detail, /no rule with "limit rate over 200\/second burst 2000 packets"/);
  assert.match(rateLimitsCheck(listing(3), limits).detail, /udp_requests dropped 3 packets of the checks/);
});
