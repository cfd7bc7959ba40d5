/**
 * Parses the deny list out of the rendered turnserver.conf and proves it is written the only way coturn 4.6 honours
 * (ranges, never CIDR, never starting at the all-zero address) and covers every address a relay must not reach.
 */
import assert from "node:assert/strict";
import { isIPv4, isIPv6 } from "node:net";
import { test } from "node:test";
import { validateStackConfig } from "../src/config/validate";
import { renderTurnserverConf } from "../src/render/vmFiles";
import { TEST_SECRET } from "./support/program";

/** Address as a number in one space: IPv4 in [0, 2^32), IPv6 as 128-bit (embedded IPv4 notation allowed). */
function toBigInt(address: string): { family: 4 | 6; value: bigint } {
  if (isIPv4(address)) {
    return { family: 4, value: address.split(".").reduce((acc, o) => (acc << 8n) + BigInt(o), 0n) };
  }
  assert.ok(isIPv6(address), `not an IP address: ${address}`);
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = toBigInt(v4[1]).value;
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  assert.equal(groups.length, 8, `bad IPv6 ${address}`);
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || "0", 16)), 0n) };
}

function cidrBounds(cidr: string): { family: 4 | 6; first: bigint; last: bigint } {
  const [address, prefix] = cidr.split("/");
  const { family, value } = toBigInt(address);
  const bits = family === 4 ? 32n : 128n;
  const size = 1n << (bits - BigInt(prefix));
  return { family, first: value, last: value + size - 1n };
}

const config = validateStackConfig({
  stack: "deny-test",
  values: {
    "coturn:cloud": "aws",
    "coturn:region": "eu-central-1",
    "coturn:domain": "turn.example.com",
    "coturn:authSecret": TEST_SECRET,
    "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32"] }),
  },
  secretKeys: new Set(["coturn:authSecret"]),
});
const conf = renderTurnserverConf(config, { publicIp: "198.51.100.20", bind: { kind: "nat", privateIp: "10.77.0.10" } });
const entries = conf
  .split("\n")
  .filter((line) => /^\s*denied-peer-ip\s*=/.test(line))
  .map((line) => line.split("=")[1].trim());
const ranges = entries.map((entry) => {
  const [start, end] = entry.split("-");
  const a = toBigInt(start);
  const b = toBigInt(end);
  return { entry, family: a.family, first: a.value, last: b.value, endFamily: b.family };
});

function denied(address: string): boolean {
  const { family, value } = toBigInt(address);
  return ranges.some((r) => r.family === family && r.first <= value && value <= r.last);
}

test("no CIDR, no all-zero start, well-formed ranges, and nothing that lets peers back in", () => {
  assert.ok(entries.length >= 25, `only ${entries.length} deny rules rendered`);
  for (const r of ranges) {
    assert.ok(!r.entry.includes("/"), `CIDR in deny list (coturn drops it): ${r.entry}`);
    assert.match(r.entry, /^[0-9a-f:.]+-[0-9a-f:.]+$/, `not a start-end range: ${r.entry}`);
    assert.equal(r.family, r.endFamily, `range mixes families: ${r.entry}`);
    assert.ok(r.first <= r.last, `reversed range: ${r.entry}`);
    assert.notEqual(r.first, 0n, `range starts at the all-zero address and would block every peer: ${r.entry}`);
  }
  assert.doesNotMatch(conf, /^\s*allowed-peer-ip/m, "production must not allow any peer back in");
  assert.doesNotMatch(conf, /^\s*allow-loopback-peers/m);
});

const REQUIRED = [
  // IPv4: this network, private, CGNAT, loopback, link-local (metadata), protocol assignments, documentation,
  // 6to4 relay, benchmarking, multicast, reserved, broadcast.
  "0.0.0.1/32", "0.255.255.255/32", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
  "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
  "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
  // IPv6: loopback, IPv4-compatible, IPv4-mapped, NAT64 (both), discard, Teredo/benchmarking, documentation, 6to4,
  // ULA, link-local, site-local, multicast.
  "::1/128", "::0.0.0.1/128", "::ffff:0.0.0.0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
  "2001:db8::/32", "2002::/16", "3fff::/20", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
];

test("every required range is denied from its first to its last address", () => {
  for (const cidr of REQUIRED) {
    const { family, first, last } = cidrBounds(cidr);
    for (const value of [first, (first + last) / 2n, last]) {
      const covered = ranges.some((r) => r.family === family && r.first <= value && value <= r.last);
      assert.ok(covered, `${cidr}: address ${value.toString(16)} is not denied`);
    }
  }
});

test("the addresses attackers aim a relay at are denied, in every IPv6 spelling", () => {
  for (const address of [
    "169.254.169.254", "fd00:ec2::254", "127.0.0.1", "::1", "10.77.0.10",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1", "::169.254.169.254",
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
  ]) {
    assert.ok(denied(address), `${address} is reachable through the relay`);
  }
});

test("ordinary public peers stay reachable", () => {
  for (const address of ["8.8.8.8", "1.1.1.1", "203.0.114.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]) {
    assert.ok(!denied(address), `${address} is denied but is a public peer`);
  }
});
