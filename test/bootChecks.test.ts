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
import { cloudUserData, networkConfig } from "../lab/boot/seed";
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
  assert.deepEqual(dropInProperties(dropIn), ["DropInPaths", "StartLimitIntervalUSec", "ConditionResult", "Restart", "RestartUSec", "LimitNOFILE", "ExecReload", "LogRateLimitIntervalUSec", "LogRateLimitBurst"]);
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
  const packaged = "DropInPaths=\nStartLimitIntervalUSec=10s\nConditionResult=yes\nRestart=on-failure\nRestartUSec=100ms\nLimitNOFILE=524288\nExecReload=\n";
  const failed = dropInCheck(DROP_IN, dropIn, packaged);
  assert.equal(failed.status, "FAIL");
  for (const problem of ["does not load", "Restart is on-failure, not always", "RestartUSec is 100ms, not 2s", "LimitNOFILE is 524288", "ExecReload is unset"]) {
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
  assert.equal(gunzipSync(cloudUserData("aws", userData)).toString("utf8"), userData);
  assert.equal(cloudUserData("gcp", userData).toString("utf8"), userData);
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
