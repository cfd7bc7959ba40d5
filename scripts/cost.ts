/**
 * npm run cost -- --calls <per month> [--minutes <m>] [--participants <n>] [--media audio|sd|hd | --bitrate <kbit/s>]
 *                 [--relayed-share <0-1>] [--peak-factor <x>] [--stack <name>] [--json]
 *
 * The monthly cost of relaying that load on each cloud (VMs sized for the peak, static IPs, egress) beside managed
 * TURN services, from the shipped, dated price file (src/cost/prices.ts). With --stack, the stack's cloud, region,
 * size and server count are priced (and its coturn:capacity media and participants are the defaults).
 * Exit 0 printed, 2 bad input.
 */
import { readStackFile, StackFileError } from "../src/config/stackFile";
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { averageRelayedCalls, cloudCost, managedCosts, relayEgressGb, serversForPeak, type CostLoad, type CostRow } from "../src/cost/estimate";
import { PRICES_AS_OF, TRAFFIC_ASSUMPTION_SOURCES } from "../src/cost/prices";
import { DEFAULT_PEAK_FACTOR, DEFAULT_RELAYED_SHARE, costRows } from "../src/cost/scenarios";
import { MEDIA_BITRATES_KBPS, type MediaProfile } from "../src/config/capacity";
import { joinNegativeNumbers, parseFlags, printTable, runMain, UsageError } from "./cli";

const USAGE = `usage: npm run cost -- --calls <per month> [options]
  --calls <n>              calls a month, relayed or not (required)
  --minutes <m>            average call length in minutes (default 20)
  --participants <n>       participants per call (default 2, or the stack's coturn:capacity)
  --media audio|sd|hd      bitrate per participant: ${Object.entries(MEDIA_BITRATES_KBPS).map(([k, v]) => `${k} ${v}`).join(", ")} kbit/s (default sd)
  --bitrate <kbit/s>       bitrate per participant and direction, instead of --media
  --relayed-share <0-1>    share of calls that need the relay (default ${DEFAULT_RELAYED_SHARE})
  --peak-factor <x>        busiest hour over the month's average of concurrent calls (default ${DEFAULT_PEAK_FACTOR})
  --stack <name>           price this stack's cloud, region, size and servers (stacks/Pulumi.<name>.yaml)
  --json                   print the rows as JSON`;

/** A number flag within bounds, or a UsageError naming the flag, the value and what is allowed. */
function numberFlag(flag: string, text: string | undefined, fallback: number, min: number, max: number, whole: boolean): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max || (whole && !Number.isInteger(value))) {
    throw new UsageError(`--${flag} ${text}: use ${whole ? "a whole number" : "a number"} from ${min} to ${max}`);
  }
  return value;
}

async function main(): Promise<number> {
  let flags;
  try {
    const numberFlags = ["--calls", "--minutes", "--participants", "--bitrate", "--relayed-share", "--peak-factor"];
    flags = parseFlags(joinNegativeNumbers(process.argv.slice(2), numberFlags), {
      calls: { type: "string" },
      minutes: { type: "string" },
      participants: { type: "string" },
      media: { type: "string" },
      bitrate: { type: "string" },
      "relayed-share": { type: "string" },
      "peak-factor": { type: "string" },
      stack: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    });
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    if (flags.calls === undefined) throw new UsageError("--calls is required: how many calls a month, relayed or not (e.g. --calls 10000)");
    if (flags.media !== undefined && flags.bitrate !== undefined) throw new UsageError("give --media or --bitrate, not both");
    if (flags.media !== undefined && !(flags.media in MEDIA_BITRATES_KBPS)) {
      throw new UsageError(`--media ${flags.media}: use one of ${Object.keys(MEDIA_BITRATES_KBPS).join(", ")}, or --bitrate <kbit/s>`);
    }
    const stack = flags.stack === undefined ? undefined : validateStackConfig(readStackFile(flags.stack, { mode: "placeholder" }));
    // Without --media or --bitrate: the stack's sized bitrate, else SD.
    const defaultBitrate = flags.media !== undefined ? MEDIA_BITRATES_KBPS[flags.media as MediaProfile] : (stack?.sizing?.bitrateKbps ?? MEDIA_BITRATES_KBPS.sd);
    const load: CostLoad = {
      callsPerMonth: numberFlag("calls", flags.calls, 0, 1, 1e9, true),
      minutesPerCall: numberFlag("minutes", flags.minutes, 20, 1, 24 * 60, false),
      participantsPerCall: numberFlag("participants", flags.participants, stack?.sizing?.participantsPerCall ?? 2, 2, 50, true),
      bitrateKbps: numberFlag("bitrate", flags.bitrate, defaultBitrate, 8, 50_000, true),
      relayedShare: numberFlag("relayed-share", flags["relayed-share"], DEFAULT_RELAYED_SHARE, 0, 1, false),
    };
    const peakFactor = numberFlag("peak-factor", flags["peak-factor"], DEFAULT_PEAK_FACTOR, 1, 100, false);
    const rows = stack ? [stackRow(stack, load, peakFactor), ...managedCosts(load)] : costRows(load, peakFactor);
    print(load, peakFactor, rows, flags.json);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof StackFileError || error instanceof StackConfigError)) throw error;
    console.error(`cost: ${error.message}${error instanceof UsageError ? `\n${USAGE}` : ""}`);
    return 2;
  }
}

/** The stack's own deployment, with at least its configured servers and as many as the peak needs. */
function stackRow(stack: ReturnType<typeof validateStackConfig>, load: CostLoad, peakFactor: number): CostRow & { servers: number } {
  const servers = serversForPeak(stack.cloud, stack.instanceType, load, peakFactor, stack.serverCount) ?? stack.serverCount;
  const row = cloudCost({ cloud: stack.cloud, region: stack.region, instanceType: stack.instanceType, servers }, load);
  if (!row) throw new UsageError(`--stack ${stack.stack}: ${stack.cloud} ${stack.instanceType} has no price in src/cost/prices.ts (as of ${PRICES_AS_OF}); price another size`);
  return { ...row, servers };
}

function print(load: CostLoad, peakFactor: number, rows: ReadonlyArray<CostRow & { servers?: number }>, json: boolean): void {
  const egress = relayEgressGb(load);
  if (json) {
    console.log(JSON.stringify({ pricesAsOf: PRICES_AS_OF, load, peakFactor, relayEgressGb: egress, rows }, null, 2));
    return;
  }
  const peak = averageRelayedCalls(load) * peakFactor;
  console.log(
    `${load.callsPerMonth.toLocaleString("en-US")} calls a month × ${load.minutesPerCall} min, ${load.participantsPerCall} participants at ` +
      `${load.bitrateKbps} kbit/s each way, ${Math.round(load.relayedShare * 100)}% relayed: ${Math.round(egress).toLocaleString("en-US")} GB ` +
      `relayed to clients a month; about ${peak.toFixed(1)} relayed calls at once in the busiest hour (${peakFactor}× the average).\n`,
  );
  const usd = (v: number): string => `$${v.toFixed(2)}`;
  printTable(
    ["option", "VMs and IPs", "GB billed", "traffic", "total a month", "assumes"],
    rows.map((r) => [r.servers && r.servers > 1 ? r.option.replace(/×\d+$/, `×${r.servers}`) : r.option, usd(r.fixedUsd), Math.round(r.billedGb).toLocaleString("en-US"), usd(r.trafficUsd), usd(r.totalUsd), r.note]),
  );
  console.log(`\nList prices as of ${PRICES_AS_OF} (src/cost/prices.ts names each source). Bitrates: ${TRAFFIC_ASSUMPTION_SOURCES.bitrates}. Relayed share: ${TRAFFIC_ASSUMPTION_SOURCES.relayedShare}.`);
}

runMain(main);
