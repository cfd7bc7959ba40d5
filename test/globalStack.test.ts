/**
 * Mock-based tests of the real program as a global stack (stacks/Pulumi.global-example.yaml) in front of three region
 * stacks whose outputs come from the real region program (support/globalFleet.ts): pools and origins, the health
 * monitor, steering and its region map, fallback, drain, TTL and `proxied: false`, the plain-records mode, every way
 * the regions can fail to fit (all reported before any resource), the config rules, and the golden plan.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { validateGlobalStackConfig, validateStackConfig } from "../src/config/validate";
import { CLOUDFLARE_REGIONS } from "../src/global/locations";
import { SECRET_SIG, unwrapSecret } from "../lab/mocks/mockCloud";
import { FLEET, fleetOutputs, globalExample, type FleetOutputs } from "./support/globalFleet";
import { TEST_CLOUDFLARE_TOKEN, exampleConfig, runProgram, type ProgramRun } from "./support/program";

const [EU, US, ASIA] = FLEET.map((f) => f.stack);
const POOL = { eu: "aws-eu-central-1", us: "gcp-us-east4", asia: "digitalocean-sgp1" } as const;
const REGIONS_KEY = "coturn:regions";

type Resource = ProgramRun["resources"][number];

function ofType(run: ProgramRun, type: string): Resource[] {
  return run.resources.filter((r) => r.type === type);
}

function only(run: ProgramRun, type: string): Resource {
  const found = ofType(run, type);
  assert.equal(found.length, 1, `expected one ${type}, found ${found.length}`);
  return found[0];
}

function pool(run: ProgramRun, name: string): Record<string, unknown> {
  const found = ofType(run, "cloudflare:index/loadBalancerPool:LoadBalancerPool").find((r) => r.name.endsWith(`-pool-${name}`));
  assert.ok(found, `pool ${name} exists`);
  return found.inputs;
}

/** The mocked id of a pool, as the load balancer refers to it. */
const poolId = (name: string): string => `global-example-pool-${name}-id`;

/** The example's regions with some entries changed. */
function regionsWith(changes: Record<number, Record<string, unknown>>): string {
  return JSON.stringify(FLEET.map((f, i) => ({ stack: f.stack, ...changes[i] })));
}

let fleet: FleetOutputs;
let example: ProgramRun;

before(async () => {
  fleet = await fleetOutputs();
  example = await runProgram(globalExample(fleet));
  assert.equal(example.error, undefined, example.error);
});

describe("global stack: the load balancer of the example", () => {
  test("reads every region stack listed in config, and nothing else", () => {
    assert.deepEqual(example.stackReferences, [EU, US, ASIA]);
  });

  test("one pool per region, its servers as origins, at the region's coordinates, checked by the monitor", () => {
    const pools = ofType(example, "cloudflare:index/loadBalancerPool:LoadBalancerPool");
    assert.equal(pools.length, 3);
    const eu = pool(example, POOL.eu);
    assert.deepEqual(eu.origins, [
      { name: "aws-example", address: "198.51.100.11", enabled: true, weight: 1 },
      { name: "aws-example-2", address: "198.51.100.12", enabled: true, weight: 1 },
    ]);
    assert.deepEqual([eu.latitude, eu.longitude], [50.1, 8.7]);
    assert.equal(eu.enabled, true);
    assert.equal(eu.minimumOrigins, 1);
    assert.deepEqual(eu.checkRegions, [...CLOUDFLARE_REGIONS], "checked from all 13 Cloudflare regions");
    assert.equal(eu.monitor, "global-example-monitor-tls-id");
    assert.equal(eu.accountId, "01a7362d577a6c3019a474fd6f485823");
    assert.equal(eu.name, "turn-example-com-aws-eu-central-1");
    assert.deepEqual(pool(example, POOL.us).origins, [{ name: "gcp-example", address: "198.51.100.21", enabled: true, weight: 1 }]);
    assert.deepEqual([pool(example, POOL.asia).latitude, pool(example, POOL.asia).longitude], [1.3, 103.8]);
  });

  test("the monitor connects over TCP to the TLS port, with the configured interval, timeout and retries", () => {
    const monitor = only(example, "cloudflare:index/loadBalancerMonitor:LoadBalancerMonitor").inputs;
    assert.equal(monitor.type, "tcp");
    assert.equal(monitor.method, "connection_established");
    assert.equal(monitor.port, 5349);
    assert.deepEqual([monitor.interval, monitor.timeout, monitor.retries, monitor.consecutiveDown, monitor.consecutiveUp], [60, 5, 2, 2, 2]);
  });

  test("the load balancer answers DNS only, with a 30 s TTL, steering by proximity, and a fallback pool", () => {
    const lb = only(example, "cloudflare:index/loadBalancer:LoadBalancer").inputs;
    assert.equal(lb.name, "turn.example.com");
    assert.equal(lb.zoneId, "023e105f4ecef8ad9ca31a8372d0c353");
    assert.equal(lb.proxied, false);
    assert.equal(lb.ttl, 30);
    assert.equal(lb.steeringPolicy, "proximity");
    assert.deepEqual(lb.locationStrategy, { preferEcs: "always", mode: "resolver_ip" });
    assert.deepEqual(lb.defaultPools, [poolId(POOL.eu), poolId(POOL.us), poolId(POOL.asia)]);
    assert.equal(lb.fallbackPool, poolId(POOL.eu));
    assert.equal(lb.regionPools, undefined, "proximity steering uses the pools' coordinates, not a region map");
  });

  test("Cloudflare gets the stack's token through an explicit provider, and no output shows it", () => {
    const provider = only(example, "pulumi:providers:cloudflare");
    assert.equal(unwrapSecret(provider.inputs.apiToken), TEST_CLOUDFLARE_TOKEN);
    assert.ok(SECRET_SIG in (provider.inputs.apiToken as object));
    for (const type of ["LoadBalancer", "LoadBalancerPool", "LoadBalancerMonitor"]) {
      for (const r of ofType(example, `cloudflare:index/${type[0].toLowerCase()}${type.slice(1)}:${type}`)) {
        assert.match(r.options.provider ?? "", /global-example-cloudflare/, `${r.name} uses the stack's provider`);
      }
    }
    assert.doesNotMatch(JSON.stringify(example.outputs), new RegExp(TEST_CLOUDFLARE_TOKEN));
  });

  test("outputs: the shared URLs and iceServers, every region's servers for the probe, the answer order per Cloudflare region", () => {
    const outputs = example.outputs as {
      urls: string[];
      iceServers: Array<{ urls: string[] }>;
      regions: Array<{ stack: string; servers: Array<{ publicIp: string; domain: string }> }>;
      answers: Record<string, string[]>;
      fallbackPool: string;
    };
    assert.deepEqual(outputs.iceServers, [
      { urls: ["turn:turn.example.com:3478?transport=udp", "turn:turn.example.com:3478?transport=tcp", "turns:turn.example.com:5349?transport=tcp"] },
    ]);
    // aws serves TLS on 443 too, the others do not: the shared name only offers what every region serves.
    assert.ok(!outputs.urls.some((u) => u.includes(":443")));
    assert.deepEqual(
      outputs.regions.map((r) => [r.stack, r.servers.map((s) => `${s.domain}=${s.publicIp}`)]),
      [
        [EU, ["s1.eu-central-1.turn.example.com=198.51.100.11", "s2.eu-central-1.turn.example.com=198.51.100.12"]],
        [US, ["us-east4.turn.example.com=198.51.100.21"]],
        [ASIA, ["sgp1.turn.example.com=198.51.100.31"]],
      ],
    );
    assert.deepEqual(Object.keys(outputs.answers), [...CLOUDFLARE_REGIONS]);
    assert.deepEqual(outputs.answers.WEU, [POOL.eu, POOL.us, POOL.asia]);
    assert.deepEqual(outputs.answers.ENAM, [POOL.us, POOL.eu, POOL.asia]);
    assert.deepEqual(outputs.answers.SEAS[0], POOL.asia);
    assert.deepEqual(outputs.answers.OC[0], POOL.asia);
    assert.equal(outputs.fallbackPool, POOL.eu);
  });

  test("the whole plan matches its reviewed golden file", () => {
    const shown = `${JSON.stringify(
      {
        // Registration order depends on when each input resolves; sorted, the file only changes when the plan does.
        resources: example.resources
          .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }))
          .sort((a, b) => `${a.type} ${a.name}`.localeCompare(`${b.type} ${b.name}`)),
        outputs: example.outputs,
      },
      (_key, value: unknown) => (value !== null && typeof value === "object" && SECRET_SIG in value ? "[secret]" : value),
      2,
    )}\n`;
    const file = join(__dirname, "golden", "global-example", "plan.json");
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, shown);
    assert.ok(existsSync(file), `missing golden file ${file}; create it with UPDATE_GOLDEN=1 and review it`);
    assert.equal(shown, readFileSync(file, "utf8"), "the global plan differs from its golden file (UPDATE_GOLDEN=1 after review)");
    assert.doesNotMatch(shown, new RegExp(TEST_CLOUDFLARE_TOKEN));
  });
});

describe("global stack: drain, geo steering, plain records", () => {
  test("draining a region disables its pool and takes it out of every answer, without deleting anything", async () => {
    const run = await runProgram(globalExample(fleet, { [REGIONS_KEY]: regionsWith({ 1: { drain: true } }) }));
    assert.equal(run.error, undefined, run.error);
    const us = pool(run, POOL.us);
    assert.equal(us.enabled, false);
    assert.equal((us.origins as unknown[]).length, 1, "the drained pool keeps its servers, so undraining is one pulumi up");
    assert.equal(ofType(run, "cloudflare:index/loadBalancerPool:LoadBalancerPool").length, 3);
    const lb = only(run, "cloudflare:index/loadBalancer:LoadBalancer").inputs;
    assert.deepEqual(lb.defaultPools, [poolId(POOL.eu), poolId(POOL.asia)]);
    const answers = run.outputs.answers as Record<string, string[]>;
    for (const code of CLOUDFLARE_REGIONS) assert.ok(!answers[code].includes(POOL.us), `${code} no longer answers ${POOL.us}`);
    assert.deepEqual(answers.ENAM, [POOL.eu, POOL.asia]);
    assert.equal((run.outputs.regions as Array<{ drained: boolean }>)[1].drained, true);
  });

  test("draining the default fallback region moves the fallback to the first region that serves", async () => {
    const changes = { [REGIONS_KEY]: regionsWith({ 0: { drain: true } }), "coturn:geoDns": JSON.stringify({ mode: "load-balancer" }) };
    const run = await runProgram(globalExample(fleet, changes));
    assert.equal(run.error, undefined, run.error);
    const lb = only(run, "cloudflare:index/loadBalancer:LoadBalancer").inputs;
    assert.equal(lb.fallbackPool, poolId(POOL.us));
    assert.deepEqual(lb.defaultPools, [poolId(POOL.us), poolId(POOL.asia)]);
  });

  test("geo steering maps each of Cloudflare's 13 regions to the serving pools, nearest first", async () => {
    const run = await runProgram(globalExample(fleet, { "coturn:geoDns": JSON.stringify({ steering: "geo", fallbackRegion: EU }) }));
    assert.equal(run.error, undefined, run.error);
    const lb = only(run, "cloudflare:index/loadBalancer:LoadBalancer").inputs;
    assert.equal(lb.steeringPolicy, "geo");
    const map = lb.regionPools as Record<string, string[]>;
    assert.deepEqual(Object.keys(map).sort(), [...CLOUDFLARE_REGIONS].sort());
    assert.deepEqual(map.WNAM, [poolId(POOL.us), poolId(POOL.eu), poolId(POOL.asia)]);
    assert.deepEqual(map.EEU, [poolId(POOL.eu), poolId(POOL.us), poolId(POOL.asia)]);
    assert.deepEqual(map.NEAS, [poolId(POOL.asia), poolId(POOL.eu), poolId(POOL.us)]);
  });

  test("dns-records mode: one A record per serving server on the shared name, DNS only, no load balancer", async () => {
    const changes = {
      [REGIONS_KEY]: regionsWith({ 2: { drain: true } }),
      "coturn:geoDns": JSON.stringify({ mode: "dns-records" }),
      "coturn:cloudflareAccountId": undefined,
    };
    const run = await runProgram(globalExample(fleet, changes));
    assert.equal(run.error, undefined, run.error);
    assert.equal(ofType(run, "cloudflare:index/loadBalancer:LoadBalancer").length, 0);
    assert.equal(ofType(run, "cloudflare:index/loadBalancerPool:LoadBalancerPool").length, 0);
    const records = ofType(run, "cloudflare:index/dnsRecord:DnsRecord").map((r) => r.inputs);
    assert.deepEqual(records.map((r) => r.content), ["198.51.100.11", "198.51.100.12", "198.51.100.21"]);
    for (const r of records) {
      assert.equal(r.name, "turn.example.com");
      assert.equal(r.type, "A");
      assert.equal(r.proxied, false);
      assert.equal(r.ttl, 60, "Cloudflare's shortest TTL for a record");
    }
  });

  test("dns-records mode without Cloudflare: nothing is created, the records to make by hand are the output", async () => {
    const changes = {
      "coturn:geoDns": JSON.stringify({ mode: "dns-records" }),
      "coturn:cloudflareAccountId": undefined,
      "coturn:cloudflareZoneId": undefined,
      "coturn:cloudflareApiToken": undefined,
    };
    const run = await runProgram(globalExample(fleet, changes));
    assert.equal(run.error, undefined, run.error);
    assert.deepEqual(run.resources.map((r) => r.type), ["coturn:index:GeoDns"]);
    const records = run.outputs.sharedRecords as Array<{ content: string; managedBy: string }>;
    assert.equal(records.length, 4);
    assert.ok(records.every((r) => r.managedBy === "you"));
  });
});

describe("global stack: regions that do not fit are refused before any resource", () => {
  /** Runs the example with the given region outputs; asserts that nothing was created and returns the error. */
  async function refused(references: FleetOutputs, changes: Record<string, string | undefined> = {}): Promise<string> {
    const run = await runProgram(globalExample(references, changes));
    assert.deepEqual(run.resources, [], "nothing may be registered");
    assert.ok(run.error, "the program must fail");
    assert.match(run.error, /^RunError: Stack config of "global-example" is invalid/);
    return run.error;
  }

  const without = (stack: string): FleetOutputs => Object.fromEntries(Object.entries(fleet).filter(([name]) => name !== stack));
  const withOutputs = (stack: string, outputs: Record<string, unknown>): FleetOutputs => ({ ...fleet, [stack]: outputs });

  test("a region stack the backend does not have", async () => {
    const error = await refused(without(US));
    assert.match(error, /coturn:regions\[1\]\.stack = "organization\/coturn\/gcp-us-east4": could not be read \(.*unknown stack "organization\/coturn\/gcp-us-east4"\)/);
    assert.match(error, /pulumi stack ls --all/);
  });

  test("a region stack without outputs (never deployed, or destroyed)", async () => {
    const error = await refused(withOutputs(ASIA, {}));
    assert.match(error, /coturn:regions\[2\]\.stack = "organization\/coturn\/digitalocean-sgp1": has no outputs: it was never deployed, or it was destroyed\. Run `pulumi up` on it first/);
  });

  test("a region stack deployed before the global layer (no servers, cloud, region outputs)", async () => {
    const { servers: _servers, cloud: _cloud, region: _region, ...older } = fleet[US];
    const error = await refused(withOutputs(US, older));
    assert.match(error, /regions\[1\]\.stack = .*lacks the outputs cloud, region, servers \(deployed by an older version of this project\?\)/);
  });

  test("two regions claiming the same pool: both in aws eu-central-1", async () => {
    const error = await refused(withOutputs(US, { ...fleet[EU], servers: [{ name: "x", domain: "x.turn.example.com", publicIp: "198.51.100.99" }] }));
    assert.match(error, /regions\[1\]\.stack = .*claims pool "aws-eu-central-1" \(aws eu-central-1\) like regions\[0\]\. Set coturn:regions\[1\]\.pool/);
  });

  test("a region for another domain, one that publishes the shared name, one without TLS, and one with another secret: all at once", async () => {
    const references = {
      ...fleet,
      [EU]: { ...fleet[EU], dnsRecords: [{ name: "turn.example.com", managedBy: "cloudflare" }] },
      [US]: { ...fleet[US], domain: "turn-gcp.example.com", listeners: ["udp", "tcp"] },
      [ASIA]: { ...fleet[ASIA], acceptedSecretFingerprints: ["0123456789abcdef"] },
    };
    const error = await refused(references);
    assert.match(error, /invalid \(4 problems\)/);
    assert.match(error, /regions\[0\]\.stack = .*points the shared name turn\.example\.com at its own servers.*coturn:publishSharedName false/);
    assert.match(error, /regions\[1\]\.stack = .*serves coturn:domain "turn-gcp\.example\.com", so its certificate does not name "turn\.example\.com"/);
    assert.match(error, /regions\[1\]\.stack = .*has no "tls" listener/);
    assert.match(error, /regions\[2\]\.stack = .*accepts none of the secrets .* Set the same coturn:authSecret on every region stack/);
  });

  test("a cloud region without known coordinates needs them in config", async () => {
    const error = await refused(withOutputs(ASIA, { ...fleet[ASIA], region: "mars1" }));
    assert.match(error, /coturn:regions\[2\] = \{"stack":"organization\/coturn\/digitalocean-sgp1"\}: is in digitalocean mars1, whose coordinates .* Set coturn:regions\[2\]\.latitude and \.longitude/);
    const run = await runProgram(
      globalExample(withOutputs(ASIA, { ...fleet[ASIA], region: "mars1" }), { [REGIONS_KEY]: regionsWith({ 2: { latitude: 1.3, longitude: 103.8 } }) }),
    );
    assert.equal(run.error, undefined, run.error);
  });

  test("an empty region list is a config error", async () => {
    const error = await refused(fleet, { [REGIONS_KEY]: "[]" });
    assert.match(error, /coturn:regions = \[\]: is empty\. List at least one region stack/);
  });
});

describe("global stack config", () => {
  const values = (changes: Record<string, string | undefined>): Record<string, string> => {
    const base = globalExample({}, changes).values;
    return base;
  };
  const problems = (changes: Record<string, string | undefined>): string[] => {
    try {
      validateGlobalStackConfig({ stack: "global", values: values(changes), secretKeys: new Set(["coturn:cloudflareApiToken"]) });
      return [];
    } catch (error) {
      return (error as Error).message.split("\n").slice(1).map((l) => l.replace(/^ {2}- /, ""));
    }
  };

  test("the example is valid and takes the defaults", () => {
    const config = validateGlobalStackConfig({ stack: "global", values: values({}), secretKeys: new Set(["coturn:cloudflareApiToken"]) });
    assert.equal(config.fallbackStack, EU);
    assert.equal(config.ttlSeconds, 30);
    assert.deepEqual(config.monitor, { interval: 60, timeout: 5, retries: 2, consecutiveDown: 2, consecutiveUp: 2 });
  });

  test("each rule names the key, the value and the fix", () => {
    const cases: Array<[Record<string, string | undefined>, string[]]> = [
      [{ [REGIONS_KEY]: undefined }, ["coturn:regions: is required: the region stacks behind the shared name. Set it: pulumi config set --path 'coturn:regions[0].stack' organization/coturn/aws-eu-central-1"]],
      [
        { [REGIONS_KEY]: JSON.stringify([{ stack: EU }, { stack: EU }]) },
        [`coturn:regions[1].stack = "${EU}": is listed twice (also regions[0]). List each region stack once`],
      ],
      [
        { [REGIONS_KEY]: JSON.stringify([{ stack: EU, pool: "eu" }, { stack: US, pool: "eu" }]) },
        ['coturn:regions[1].pool = "eu": is claimed by regions[0] too. Give each region its own pool, or run more servers in one region (coturn:serverCount)'],
      ],
      [
        { [REGIONS_KEY]: JSON.stringify([{ stack: EU, drain: true }]), "coturn:geoDns": "{}" },
        [`coturn:regions = ["${EU}"]: drains every region, so the shared name would answer nothing. Keep at least one region with drain: false`],
      ],
      [
        { [REGIONS_KEY]: regionsWith({ 0: { drain: true } }) },
        [`coturn:geoDns.fallbackRegion = "${EU}": is drained. Name a region that serves, or unset it to use the first one that does`],
      ],
      [
        { "coturn:geoDns": JSON.stringify({ fallbackRegion: "elsewhere" }) },
        [`coturn:geoDns.fallbackRegion = "elsewhere": is not one of coturn:regions[].stack (${EU}, ${US}, ${ASIA}). Use one of them`],
      ],
      [{ [REGIONS_KEY]: JSON.stringify([{ stack: "a b" }]) }, [`coturn:regions[0].stack = "a b": is not a stack name. Write it as "<org>/coturn/<stack>" (\`pulumi stack ls --all\` lists them), or "<stack>" in the same project`]],
      [
        { "coturn:cloudflareAccountId": undefined },
        ['coturn:cloudflareAccountId: is required with geoDns.mode "load-balancer" (pools and monitors belong to the account): pulumi config set coturn:cloudflareAccountId <32 hex digits>'],
      ],
      [{ "coturn:geoDns": JSON.stringify({ ttl: 5 }) }, ["coturn:geoDns.ttl = 5: must be at least 30"]],
      [{ "coturn:geoDns": JSON.stringify({ monitor: { interval: 1 } }) }, ["coturn:geoDns.monitor.interval = 1: must be at least 10"]],
      [{ "coturn:geoDns": JSON.stringify({ steering: "random" }) }, ['coturn:geoDns.steering = "random": is not one of "proximity", "geo"']],
      [
        { "coturn:region": "eu-central-1" },
        ['coturn:region = "eu-central-1": is a region stack setting and means nothing on a global stack (coturn:cloud global), which only points the shared name at region stacks. Remove it from stacks/Pulumi.global.yaml'],
      ],
    ];
    for (const [changes, expected] of cases) assert.deepEqual(problems(changes), expected, JSON.stringify(changes));
  });

  test("a region stack may not carry the global stack's keys, and a global stack is not a region stack", () => {
    const region = exampleConfig("aws-example");
    const raw = { stack: "aws-example", values: { ...region.values, [REGIONS_KEY]: JSON.stringify([{ stack: EU }]) }, secretKeys: new Set(region.secretKeys) };
    assert.throws(() => validateStackConfig(raw), /coturn:regions = .*is a setting of the global stack \(coturn:cloud global\)/);
    const global = { stack: "global", values: values({}), secretKeys: new Set(["coturn:cloudflareApiToken"]) };
    assert.throws(() => validateStackConfig(global), /coturn:cloud = "global": makes this the global stack, which has no server of its own/);
  });
});
