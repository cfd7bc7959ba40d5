// Test stacks: durations, expiry timestamps across time zones, which stacks the cleanup selects, and the config rules
// that keep the stack tags (what the cleanup reads) in step with coturn:ephemeral.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeLength, parseDuration } from "../src/config/duration";
import { decide, globPattern, type ListedStack } from "../src/ephemeral/selection";
import { expiryAfter, formatExpiry, parseExpiry } from "../src/config/stackTags";
import { readEphemeralMark } from "../src/ephemeral/ephemeralMark";
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError, formatProblem } from "../src/config/configProblems";
import { ephemeralValues } from "./support/program";

const HOUR = 3_600_000;

test("durations: every unit, whitespace trimmed; zero, signs, fractions, missing or unknown units refused", () => {
  const ok = (text: string): number => {
    const parsed = parseDuration(text);
    assert.ok(!("problem" in parsed), `${text}: ${JSON.stringify(parsed)}`);
    return parsed.milliseconds;
  };
  assert.equal(ok("90m"), 90 * 60_000);
  assert.equal(ok("4h"), 4 * HOUR);
  assert.equal(ok(" 2d "), 48 * HOUR);
  assert.equal(ok("1w"), 168 * HOUR);
  assert.deepEqual(parseDuration("007h"), { text: "7h", milliseconds: 7 * HOUR });
  for (const bad of ["abc", "4", "h", "4 h", "4H", "1.5h", "-4h", "+4h", "4s", "4hours", "", "1234567h"]) {
    assert.match(String((parseDuration(bad) as { problem: string }).problem), /is not a duration: use a whole number and a unit m, h, d or w, e\.g\. 90m, 4h, 2d/, bad);
  }
  for (const zero of ["0m", "0h", "00d"]) assert.match(String((parseDuration(zero) as { problem: string }).problem), /^is zero: use a positive duration/, zero);
  assert.deepEqual(["45000", "90000", "7200000", "7500000", "183600000"].map((ms) => describeLength(Number(ms))), ["45s", "1m", "2h", "2h 5m", "2d 3h"]);
});

test("expiry: the same moment whatever the offset or this process's time zone; a time without a zone is refused", () => {
  const utc = parseExpiry("2026-11-22T18:00:00Z");
  assert.ok(utc instanceof Date);
  for (const same of ["2026-11-22T19:00:00+01:00", "2026-11-22T13:00-05:00", "2026-11-23T03:30:00+09:30", "2026-11-22T18:00:00.000z"]) {
    assert.equal((parseExpiry(same) as Date).getTime(), utc.getTime(), same);
  }
  assert.match(String((parseExpiry("2026-11-22T18:00:00") as { problem: string }).problem), /has no time zone, so it would mean a different moment on each machine: add Z/);
  for (const bad of ["tomorrow", "2026-11-22", "2026-02-30T10:00:00Z", "2026-11-22T24:00:00Z", "2026-13-01T00:00:00Z", "1763834400"]) {
    assert.ok("problem" in (parseExpiry(bad) as object), bad);
  }
  assert.equal(formatExpiry(new Date("2026-11-22T19:00:00.789+01:00")), "2026-11-22T18:00:00Z");
  // Crossing a day, a month and a year boundary, in UTC whatever TZ says.
  const now = new Date("2026-12-31T22:30:00-02:00");
  assert.equal(expiryAfter(now, { text: "2h", milliseconds: 2 * HOUR }), "2027-01-01T02:30:00Z");
  assert.equal(expiryAfter(now, { text: "1w", milliseconds: 168 * HOUR }), "2027-01-08T00:30:00Z");
});

test("the marker: absent or false is not a test stack; an unreadable one is reported, never guessed", () => {
  assert.deepEqual(readEphemeralMark({}), { kind: "not-ephemeral" });
  assert.deepEqual(readEphemeralMark({ "coturn:ephemeral": "false", "coturn:expires-at": "2020-01-01T00:00:00Z" }), { kind: "not-ephemeral" });
  const marked = readEphemeralMark({ "coturn:ephemeral": "4h", "coturn:expires-at": "2026-11-22T18:00:00+00:00" });
  assert.equal(marked.kind, "ephemeral");
  assert.equal(marked.kind === "ephemeral" && marked.expiresAt.toISOString(), "2026-11-22T18:00:00.000Z");
  const noExpiry = readEphemeralMark({ "coturn:ephemeral": "4h" });
  assert.deepEqual([noExpiry.kind, noExpiry.kind === "unreadable" && noExpiry.problem], ["unreadable", "tag coturn:expires-at is missing"]);
  const badMarker = readEphemeralMark({ "coturn:ephemeral": "true", "coturn:expires-at": "2026-11-22T18:00:00Z" });
  assert.equal(badMarker.kind, "unreadable");
  assert.equal(badMarker.kind === "unreadable" && badMarker.ttl, undefined);
});

test("globs match whole names; regex characters in a name are literal", () => {
  assert.ok(globPattern("ci-*").test("ci-1234"));
  assert.ok(!globPattern("ci-*").test("prod-ci-1"));
  assert.ok(globPattern("*").test("anything"));
  assert.ok(globPattern("pr-?").test("pr-7") && !globPattern("pr-?").test("pr-77"));
  assert.ok(globPattern("a.b").test("a.b") && !globPattern("a.b").test("axb"));
});

// ---------------------------------------------------------------------------------------------------------------

const NOW = new Date("2026-11-22T12:00:00Z");
const test4h = (name: string, expiresAt: string, extra: Partial<ListedStack> = {}): ListedStack => ({
  name,
  lastUpdate: new Date("2026-11-22T08:00:00Z"),
  tags: { "coturn:ephemeral": "4h", "coturn:expires-at": expiresAt },
  ...extra,
});
const STACKS: ListedStack[] = [
  { name: "production-fra", lastUpdate: new Date("2025-01-01T00:00:00Z"), tags: { "pulumi:project": "coturn" } },
  { name: "lasting-marked-false", tags: { "coturn:ephemeral": "false" } },
  test4h("expired-utc", "2026-11-22T11:59:59Z"),
  test4h("expired-offset", "2026-11-22T13:30:00+02:00"), // 11:30 UTC
  test4h("expires-exactly-now", "2026-11-22T07:00:00-05:00"), // 12:00 UTC
  test4h("alive-offset", "2026-11-22T06:30:00-06:00"), // 12:30 UTC
  test4h("ci-alive", "2026-11-22T15:00:00Z", { lastUpdate: new Date("2026-11-22T11:00:00Z") }),
  test4h("running", "2026-11-22T10:00:00Z", { updateInProgress: true }),
  { name: "no-expiry", lastUpdate: new Date("2026-11-20T00:00:00Z"), tags: { "coturn:ephemeral": "4h" } },
  { name: "bad-marker", tags: { "coturn:ephemeral": "yes", "coturn:expires-at": "2020-01-01T00:00:00Z" } },
];
const actions = (options: Parameters<typeof decide>[1]): Record<string, string> =>
  Object.fromEntries(decide(STACKS, options).map((d) => [d.stack.name, `${d.action}: ${d.reason}`]));

test("selection: expired test stacks only, across offsets; lasting, running and unreadable stacks are never selected", () => {
  assert.deepEqual(actions({ now: NOW }), {
    "production-fra": "keep: not a test stack (no coturn:ephemeral tag)",
    "lasting-marked-false": "keep: not a test stack (no coturn:ephemeral tag)",
    "expired-utc": "destroy: expired 1s ago",
    "expired-offset": "destroy: expired 30m ago",
    "expires-exactly-now": "destroy: expired 0s ago",
    "alive-offset": "keep: expires in 30m",
    "ci-alive": "keep: expires in 3h",
    running: "skip: an update is running on it; try again when it ends",
    "no-expiry": "skip: tag coturn:expires-at is missing: not destroyed on expiry (name it with --match to destroy it)",
    "bad-marker": 'skip: tag coturn:ephemeral="yes" is not a duration: use a whole number and a unit m, h, d or w, e.g. 90m, 4h, 2d: never destroyed while its marker is unreadable',
  });
});

test("selection: --match '*' adds every test stack and still no lasting or unreadable one", () => {
  const all = actions({ now: NOW, match: "*" });
  assert.deepEqual(
    Object.entries(all).filter(([, a]) => a.startsWith("destroy")).map(([n]) => n),
    ["expired-utc", "expired-offset", "expires-exactly-now", "alive-offset", "ci-alive", "no-expiry"],
  );
  assert.equal(all["production-fra"], "keep: not a test stack (no coturn:ephemeral tag)");
  assert.equal(all["lasting-marked-false"], "keep: not a test stack (no coturn:ephemeral tag)");
  assert.match(all["bad-marker"], /^skip: /);
  assert.match(all.running, /^skip: an update is running/);
  assert.equal(all["ci-alive"], "destroy: matches --match *");
});

test("selection: --match narrows by name, --older-than by last update; together both must hold", () => {
  const destroyed = (options: Parameters<typeof decide>[1]): string[] =>
    decide(STACKS, options).filter((d) => d.action === "destroy").map((d) => d.stack.name);
  const expired = ["expired-utc", "expired-offset", "expires-exactly-now"];
  assert.deepEqual(destroyed({ now: NOW, match: "ci-*" }), [...expired, "ci-alive"].sort((a, b) => STACKS.findIndex((s) => s.name === a) - STACKS.findIndex((s) => s.name === b)));
  // ci-alive was updated 1 h ago, alive-offset 4 h ago, no-expiry 2.5 days ago.
  assert.deepEqual(destroyed({ now: NOW, olderThan: { text: "2h", milliseconds: 2 * HOUR } }), [...expired, "alive-offset", "no-expiry"]);
  assert.deepEqual(destroyed({ now: NOW, match: "ci-*", olderThan: { text: "2h", milliseconds: 2 * HOUR } }), expired);
  assert.equal(actions({ now: NOW, olderThan: { text: "2d", milliseconds: 48 * HOUR } })["no-expiry"], "destroy: last update 2d 12h ago (--older-than 2d)");
});

// ---------------------------------------------------------------------------------------------------------------

const BASE: Record<string, string> = {
  "coturn:cloud": "aws",
  "coturn:region": "eu-central-1",
  "coturn:domain": "turn.example.com",
  "coturn:authSecret": "T3st-only-secret-Zm9vYmFyYmF6cXV4LWNvdHVybi1wdWx1bWktdGVzdHM0NTY3OA",
  "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32"] }),
};
const problems = (changes: Record<string, string>): string[] => {
  try {
    validateStackConfig({ stack: "try-fra", values: { ...BASE, ...changes }, secretKeys: new Set(["coturn:authSecret"]) });
    return [];
  } catch (error) {
    if (!(error instanceof StackConfigError)) throw error;
    return error.problems.map(formatProblem);
  }
};
const tags = (value: Record<string, string>): Record<string, string> => ({ "pulumi:tags": JSON.stringify(value) });

test("config: a test stack's time to live and tags make its lifetime; lasting stacks have none", () => {
  const config = validateStackConfig({ stack: "try-fra", values: { ...BASE, ...ephemeralValues("4h", "2026-01-22T13:00:00+01:00") }, secretKeys: new Set(["coturn:authSecret"]) });
  assert.deepEqual(config.ephemeral, { timeToLive: "4h", expiresAt: "2026-01-22T12:00:00Z" });
  assert.equal(config.instanceType, "t4g.micro");
  const lasting = validateStackConfig({ stack: "fra", values: { ...BASE, "coturn:ephemeral": "false" }, secretKeys: new Set(["coturn:authSecret"]) });
  assert.equal(lasting.ephemeral, undefined);
  assert.equal(lasting.instanceType, "t4g.small");
});

test("config: a zero, true, too short or too long time to live, and tags out of step, each get their own fix", () => {
  assert.deepEqual(problems({ "coturn:ephemeral": "0h" }), ['coturn:ephemeral = "0h": is zero: use a positive duration, e.g. 90m, 4h, 2d']);
  assert.deepEqual(problems({ "coturn:ephemeral": "true" }), ['coturn:ephemeral = "true": needs a time to live instead of true, e.g. "4h": the stack is destroyed once it has passed']);
  assert.deepEqual(problems({ "coturn:ephemeral": "abc" }), ['coturn:ephemeral = "abc": is not a duration: use a whole number and a unit m, h, d or w, e.g. 90m, 4h, 2d']);
  assert.match(problems({ ...ephemeralValues("10m") }).join("\n"), /^coturn:ephemeral = "10m": is shorter than 30m: a test stack could expire while it is still being deployed/);
  assert.match(problems({ ...ephemeralValues("5w") }).join("\n"), /^coturn:ephemeral = "5w": is longer than 30d: a stack that lives that long is not a test stack/);

  const missing = problems({ "coturn:ephemeral": "4h" });
  assert.equal(missing.length, 1);
  assert.match(missing[0], /^pulumi:tags: must hold the test stack's marker and expiry, the only place npm run destroy-test-stacks reads them \(coturn:ephemeral is missing\)\. Put them in stacks\/Pulumi\.try-fra\.yaml under config: → pulumi:tags: \{"coturn:ephemeral": "4h", "coturn:expires-at": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\} \(now \+ 4h; npm run test-stack -- up writes them for you\)$/);
  assert.match(problems({ "coturn:ephemeral": "4h", ...tags({ "coturn:ephemeral": "2h", "coturn:expires-at": "2030-01-01T00:00:00Z" }) })[0], /\(coturn:ephemeral is "2h", not "4h" as coturn:ephemeral\)/);
  assert.match(problems({ "coturn:ephemeral": "4h", ...tags({ "coturn:ephemeral": "4h" }) })[0], /\(coturn:expires-at is missing\)/);
  assert.match(
    problems({ "coturn:ephemeral": "4h", ...tags({ "coturn:ephemeral": "4h", "coturn:expires-at": "2026-11-22T18:00:00" }) })[0],
    /^pulumi:tags\.coturn:expires-at = "2026-11-22T18:00:00": has no time zone/,
  );
  const yearSlip = new Date(Date.now() + 365 * 24 * HOUR).toISOString();
  assert.match(problems({ ...ephemeralValues("4h", yearSlip) })[0], /^pulumi:tags\.coturn:expires-at = ".*": is more than the time to live \(4h\) away/);
  // Already expired is valid config: the stack can still be updated or destroyed (destroy-test-stacks will take it).
  assert.deepEqual(problems({ ...ephemeralValues("4h", "2020-01-01T00:00:00Z") }), []);
  assert.deepEqual(problems({ "pulumi:tags": "[1,2]" }), ["pulumi:tags = [1,2]: is not a mapping of tag names to values"]);
});

test("config: a lasting stack carrying the test-stack tags is refused, since the cleanup would destroy it", () => {
  for (const changes of [tags({ "coturn:ephemeral": "4h", "coturn:expires-at": "2030-01-01T00:00:00Z" }), tags({ "coturn:expires-at": "2030-01-01T00:00:00Z" })]) {
    assert.deepEqual(problems(changes).map((p) => p.replace(/ = .*?: /, ": ")), [
      "pulumi:tags: marks the stack as a test stack (coturn:ephemeral/coturn:expires-at), which npm run destroy-test-stacks would destroy, but coturn:ephemeral is not set. Set coturn:ephemeral to its time to live, or remove those tags",
    ]);
  }
  assert.deepEqual(problems(tags({ team: "media", "coturn:ephemeral": "false" })), []);
});
