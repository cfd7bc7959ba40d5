/**
 * Rules across the keys of a region or local stack, each run only when the keys it needs parsed: the stack's kind
 * against the command, sizing, the cloud's names, ports and listeners, secrets, TLS and DNS, the test-stack tags,
 * SSH, the metrics keys (monitoringRules.ts) and a rotation in progress. The global stack's rules are in `globalStackConfig.ts`.
 */
import { GLOBAL_CLOUD, LISTENER_PORTS, LOCAL_CLOUD, type ConfigKey, type DeployCloud, type ParsedConfigKeys } from "./schema";
import { ipv4CidrProblem, parsePortRange } from "./valueFormats";
import { CLOUD_PROFILES, exampleZone, isZoneOfRegion } from "./cloudProfiles";
import { CLOUD_LOCATIONS_AS_OF, isKnownRegion, regionNames, zoneLetters } from "./cloudLocations";
import { awsZoneOfferingProblem } from "./awsZoneOfferings";
import { closestName } from "./closestName";
import { problemAdder, shownValueAt, type ConfigProblem } from "./configProblems";
import { fullKey, type RawStackConfig, type StackKind } from "./rawStackConfig";
import { effectiveInstanceType, sizingOf } from "./derivedSettings";
import { acmeAndDnsProblems, tlsProblems } from "./tlsAndDnsRules";
import { ephemeralProblems } from "./testStackRules";
import { monitoringProblems } from "./monitoringRules";
import { rateLimitProblems } from "./rateLimits";

type Parsed = Partial<ParsedConfigKeys>;

/** SSH sources wider than this prefix (more than 65,536 addresses) need `ssh.allowAnySource`. */
const MIN_SSH_PREFIX = 16;

/** Rules that involve more than one key; each runs only when the keys it needs parsed. */
export function crossKeyProblems(c: Parsed, raw: RawStackConfig, expected: StackKind): ConfigProblem[] {
  const local = c.cloud === LOCAL_CLOUD;
  return [
    ...commandKindProblems(c, expected),
    ...sizingProblems(c),
    ...(c.cloud && c.cloud !== LOCAL_CLOUD && c.cloud !== GLOBAL_CLOUD ? cloudProblems(c.cloud, c) : []),
    ...relayPortProblems(c),
    ...listenerProblems(c),
    ...repeatedSecretProblems(c),
    ...tlsProblems(c, raw),
    ...(local ? [] : [...acmeAndDnsProblems(c, raw), ...ephemeralProblems(c, raw)]),
    ...sshProblems(c, expected),
    ...(local ? [] : monitoringProblems(c)),
    ...(local ? [] : rateLimitProblems(c)),
    ...rotationProblems(c),
  ];
}

/** A stack of one kind handed to a command for another: what each kind is run with. */
export function kindProblems(kind: StackKind, expected: StackKind): ConfigProblem[] {
  if (kind === expected) return [];
  const runs: Record<StackKind, string> = {
    cloud: "a region stack, deployed with `pulumi up`",
    local: "the local target, run with `npm run local`",
    global: "the global stack, which has no server of its own: it points the shared name at region stacks (`pulumi up`)",
  };
  const value = kind === "cloud" ? undefined : kind;
  return [{ key: fullKey("cloud"), shownValue: value && JSON.stringify(value), message: `makes this ${runs[kind]}; this command needs ${runs[expected]}` }];
}

/** `coturn:cloud` against what the command runs: a region stack, the local target, or the global stack. */
function commandKindProblems(c: Parsed, expected: StackKind): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const local = c.cloud === LOCAL_CLOUD;
  if (c.cloud && expected === "cloud" && local) {
    add("cloud", c.cloud, "runs coturn on this machine: start it with `npm run local`. Only cloud stacks are deployed or rendered for a VM");
  } else if (c.cloud && expected === "local" && !local) {
    add(
      "cloud",
      c.cloud,
      'is a cloud stack: `npm run local` runs stacks with coturn:cloud "local" (stacks/Pulumi.local.yaml). Deploy this one with `pulumi up`',
    );
  }
  if (expected === "global") problems.push(...kindProblems(local ? "local" : "cloud", "global"));
  return problems;
}

/** What `coturn:capacity` cannot get from the keys it is sized against, each shown with the value it was sized with. */
function sizingProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  for (const problem of sizingOf(c)?.problems ?? []) {
    const [top, field] = problem.key.split(".") as [ConfigKey, string | undefined];
    const value = field === undefined ? c[top] : (c[top] as Record<string, unknown> | undefined)?.[field];
    add(problem.key, top === "instanceType" ? effectiveInstanceType(c) : value, `${problem.message} (sized from coturn:capacity)`);
  }
  return problems;
}

/** Region, zone, size, image and tags checked against what the stack's cloud accepts. */
function cloudProblems(cloud: DeployCloud, c: Parsed): ConfigProblem[] {
  const profile = CLOUD_PROFILES[cloud];
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const regionKnown = c.region !== undefined && isKnownRegion(cloud, c.region);
  if (c.region !== undefined && !regionKnown) add("region", c.region, unknownRegionMessage(cloud, c.region));
  if (c.availabilityZone !== undefined) {
    if (profile.zoneNaming === "none") {
      add("availabilityZone", c.availabilityZone, `means nothing on ${profile.title}, which places a Droplet by region only. Remove it`);
    } else if (c.region !== undefined && regionKnown) {
      const problem = zoneProblem(cloud, c.region, c.availabilityZone, effectiveInstanceType(c));
      if (problem !== undefined) add("availabilityZone", c.availabilityZone, problem);
    }
  }
  if (c.instanceType !== undefined && !profile.instanceType.pattern.test(c.instanceType)) {
    add(
      "instanceType",
      c.instanceType,
      `is not ${profile.instanceType.what} (coturn:cloud is ${cloud}). Use one such as ${quotedList(profile.instanceType.examples, "or")}, or unset it for ${profile.defaultInstanceType}`,
    );
  }
  const unusable = c.image === undefined ? undefined : profile.unusableImages[c.image];
  if (unusable !== undefined) add("image", c.image, unusable);
  for (const [name, value] of Object.entries(c.tags ?? {})) {
    const problem = profile.tagProblem(name, value);
    if (problem) problems.push({ key: `${fullKey("tags")}.${name}`, shownValue: shownValueAt(`tags.${name}`, value), message: problem });
  }
  return problems;
}

/** `"a" or "b" or "c"`, or `"a", "b" and "c"`. */
function quotedList(names: readonly string[], joiner: "or" | "and"): string {
  const quoted = names.map((n) => `"${n}"`);
  if (joiner === "or" || quoted.length < 2) return quoted.join(" or ");
  return `${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1) ?? ""}`;
}

/**
 * Why a region is not one of the cloud's: another cloud's region, a near miss of a real one, a well-formed name that
 * does not exist (or opened after the table's date), or not a region name at all.
 */
function unknownRegionMessage(cloud: DeployCloud, region: string): string {
  const profile = CLOUD_PROFILES[cloud];
  const examples = `Use one such as ${quotedList(profile.region.examples, "or")}`;
  const otherCloud = (Object.keys(CLOUD_PROFILES) as DeployCloud[]).find((other) => other !== cloud && isKnownRegion(other, region));
  if (otherCloud !== undefined) {
    return `is a region of ${CLOUD_PROFILES[otherCloud].title}, not ${profile.region.what} (coturn:cloud is ${cloud}). ${examples}, or set coturn:cloud to ${otherCloud} if the stack belongs there`;
  }
  const suggestion = closestName(region, regionNames(cloud));
  if (suggestion !== undefined) return `is not ${profile.region.what} (coturn:cloud is ${cloud}). Did you mean "${suggestion}"?`;
  if (profile.region.pattern.test(region)) {
    return (
      `is not ${profile.region.what} that exists (coturn:cloud is ${cloud}; regions as of ${CLOUD_LOCATIONS_AS_OF}). ${examples}. ` +
      `If ${profile.title} opened it since, add it to src/config/cloudLocations.ts`
    );
  }
  return `is not ${profile.region.what} (coturn:cloud is ${cloud}). ${examples}`;
}

/** Why a zone cannot hold this stack's VM in `region` (a known region), or undefined when it can. */
function zoneProblem(cloud: DeployCloud, region: string, zone: string, instanceType: string | undefined): string | undefined {
  const naming = CLOUD_PROFILES[cloud].zoneNaming;
  const letters = zoneLetters(cloud, region);
  const example = exampleZone(naming, region, letters?.[0]);
  if (/^[a-z]{3,5}\d{1,2}-az\d{1,2}$/.test(zone)) {
    return `is an AZ ID, but coturn:availabilityZone takes a zone name such as "${example}" (EC2 > Settings > Zones lists the name of each ID in your account), or unset it`;
  }
  if (!isZoneOfRegion(naming, region, zone)) return `is not a zone of region ${region}. Use e.g. "${example}", or unset it`;
  const letter = zone.at(-1) ?? "";
  if (letters !== undefined && !letters.includes(letter)) {
    const zones = [...letters].map((l) => exampleZone(naming, region, l));
    return `is not a zone of region ${region}, whose zones are ${quotedList(zones, "and")}. Use one of them, or unset it`;
  }
  return cloud === "aws" && instanceType !== undefined ? awsZoneOfferingProblem(zone, instanceType) : undefined;
}

/** The relay range: a valid range that overlaps no listener port. */
function relayPortProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  if (c.relayPorts !== undefined) {
    const range = parsePortRange(c.relayPorts);
    if (typeof range === "string") {
      add("relayPorts", c.relayPorts, range);
    } else if (c.listeners) {
      const used = [
        ...(c.listeners.some((l) => l === "udp" || l === "tcp") ? [LISTENER_PORTS.plain] : []),
        ...(c.listeners.some((l) => l === "tls" || l === "dtls" || l === "tls-443") ? [LISTENER_PORTS.tls] : []),
      ];
      for (const port of used) {
        if (port >= range.min && port <= range.max) {
          add("relayPorts", c.relayPorts, `overlaps listener port ${port}. Use a range above it, e.g. "49152-65535"`);
        }
      }
    }
  }
  return problems;
}

/** Listeners listed once, `tls-443` only beside `tls`, and not on a local stack. */
function listenerProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const local = c.cloud === LOCAL_CLOUD;
  if (c.listeners) {
    const seen = new Set<string>();
    const repeated = new Set<string>();
    for (const l of c.listeners) {
      if (seen.has(l)) repeated.add(l);
      seen.add(l);
    }
    for (const l of repeated) add("listeners", c.listeners, `lists "${l}" more than once. List each listener once`);
    if (seen.has("tls-443") && !seen.has("tls")) {
      add("listeners", c.listeners, `has "tls-443" without "tls": port 443 is forwarded to the TLS listener. Add "tls"`);
    }
    if (local && seen.has("tls-443")) {
      add(
        "listeners",
        c.listeners,
        `has "tls-443", which needs root and an nftables redirect of port 443; coturn:cloud "local" runs coturn as you. ` +
          `Remove "tls-443" (browsers reach turns: on port ${LISTENER_PORTS.tls})`,
      );
    }
  }
  return problems;
}

/** The active and the previous secrets, each listed once. */
function repeatedSecretProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (c.authSecret !== undefined && c.previousAuthSecrets) {
    const all = [c.authSecret, ...c.previousAuthSecrets];
    if (new Set(all).size !== all.length) {
      problems.push({
        key: fullKey("previousAuthSecrets"),
        shownValue: "(secret)",
        message:
          "repeats a secret (or holds the active coturn:authSecret). List each secret once " +
          "(an interrupted `npm run rotate` leaves this state: run the same command again to finish it)",
      });
    }
  }
  return problems;
}

/** SSH sources: valid, not wider than /16 unless allowed, and at least one on a cloud stack. */
function sshProblems(c: Parsed, expected: StackKind): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const local = c.cloud === LOCAL_CLOUD;
  if (c.ssh) {
    for (const [i, cidr] of c.ssh.allowedCidrs.entries()) {
      const problem = ipv4CidrProblem(cidr);
      if (problem) add(`ssh.allowedCidrs[${i}]`, cidr, problem);
      else if (Number(cidr.split("/")[1]) < MIN_SSH_PREFIX && !c.ssh.allowAnySource) {
        add(
          `ssh.allowedCidrs[${i}]`,
          cidr,
          `opens SSH to ${cidr.endsWith("/0") ? "the whole internet" : `${(2 ** (32 - Number(cidr.split("/")[1]))).toLocaleString("en-US")} addresses`}. ` +
            'Use your own address (e.g. "203.0.113.7/32"), or set coturn:ssh.allowAnySource to true if you really mean it',
        );
      }
    }
    if (c.cloud && !local && expected === "cloud" && c.ssh.allowedCidrs.length === 0) {
      add(
        "ssh.allowedCidrs",
        [],
        "is empty, but `pulumi up` delivers the TURN secrets to the VM over SSH (port 22, with a key this stack generates that can " +
          "only replace the secret set). List the address of every machine that runs `pulumi up` for this stack: " +
          "pulumi config set --path 'coturn:ssh.allowedCidrs[0]' 203.0.113.7/32 (CI runners without fixed addresses need their " +
          "provider's range, or 0.0.0.0/0 with coturn:ssh.allowAnySource true)",
      );
    }
  }
  return problems;
}

/** A rotation in progress needs an old secret, and its time of switching once switched. */
function rotationProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  if (c.rotation) {
    if ((c.previousAuthSecrets ?? []).length === 0) {
      add(
        "rotation",
        c.rotation,
        "records a rotation in progress, but coturn:previousAuthSecrets is empty, so there is no old secret to phase out. " +
          "Remove it: pulumi config rm coturn:rotation",
      );
    }
    if (c.rotation.phase === "switched" && c.rotation.switchedAt === undefined) {
      add("rotation.switchedAt", undefined, 'is required in phase "switched". Run npm run rotate -- --stack <name> --apps-switched again');
    }
  }
  return problems;
}
