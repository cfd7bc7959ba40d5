/**
 * The typical scenarios docs/sizing-and-cost.md prices, from the same code as `npm run cost`, so the table cannot drift from it.
 */
import { MEDIA_BITRATES_KBPS } from "../config/capacity";
import { DEFAULT_DEPLOYMENTS, cloudCost, managedCosts, relayEgressGb, serversForPeak, type CostLoad, type CostRow } from "./estimate";

/** How many times the month's average of concurrent calls the busiest hour carries. */
export const DEFAULT_PEAK_FACTOR = 3;
/** Share of calls that need the relay when not given (see TRAFFIC_ASSUMPTION_SOURCES). */
export const DEFAULT_RELAYED_SHARE = 0.15;

/** A named load. */
export interface CostScenario {
  readonly name: string;
  readonly load: CostLoad;
}

/** The scenarios of the cost table in docs/sizing-and-cost.md. */
export const COST_SCENARIOS: readonly CostScenario[] = [
  {
    name: "10,000 video calls a month, 20 min, SD",
    load: { callsPerMonth: 10_000, minutesPerCall: 20, participantsPerCall: 2, bitrateKbps: MEDIA_BITRATES_KBPS.sd, relayedShare: DEFAULT_RELAYED_SHARE },
  },
  {
    name: "200,000 video calls a month, 30 min, SD",
    load: { callsPerMonth: 200_000, minutesPerCall: 30, participantsPerCall: 2, bitrateKbps: MEDIA_BITRATES_KBPS.sd, relayedShare: DEFAULT_RELAYED_SHARE },
  },
  {
    name: "500,000 voice calls a month, 10 min",
    load: { callsPerMonth: 500_000, minutesPerCall: 10, participantsPerCall: 2, bitrateKbps: MEDIA_BITRATES_KBPS.audio, relayedShare: DEFAULT_RELAYED_SHARE },
  },
];

/** Every option for a load: each cloud's default size, as many servers as the peak needs, then the managed services. */
export function costRows(load: CostLoad, peakFactor = DEFAULT_PEAK_FACTOR): Array<CostRow & { servers?: number }> {
  const clouds = DEFAULT_DEPLOYMENTS.map((deployment) => {
    const servers = serversForPeak(deployment.cloud, deployment.instanceType, load, peakFactor) ?? 1;
    const row = cloudCost({ ...deployment, servers }, load);
    if (!row) throw new Error(`unreachable: the default size ${deployment.instanceType} is priced`);
    return { ...row, servers };
  });
  return [...clouds, ...managedCosts(load)];
}

const usd = (value: number): string => `$${value < 100 ? value.toFixed(2) : Math.round(value).toLocaleString("en-US")}`;

/** The docs' cost table: one row per scenario, the monthly total of each option. */
export function costScenariosMarkdown(): string {
  const options = costRows(COST_SCENARIOS[0].load).map((r) => r.option.replace(/ ×\d+$/, ""));
  const lines = [
    `| scenario | relayed egress | ${options.join(" | ")} |`,
    `| --- | --- | ${options.map(() => "---").join(" | ")} |`,
    ...COST_SCENARIOS.map((scenario) => {
      const rows = costRows(scenario.load);
      const cells = rows.map((r) => (r.servers && r.servers > 1 ? `${usd(r.totalUsd)} (${r.servers} VMs)` : usd(r.totalUsd)));
      return `| ${scenario.name} | ${Math.round(relayEgressGb(scenario.load)).toLocaleString("en-US")} GB | ${cells.join(" | ")} |`;
    }),
  ];
  return `${lines.join("\n")}\n`;
}
