/**
 * Settings that follow from several keys, needed both by the rules across keys and by the typed config: whether the
 * stack is a test stack, the VM size it gets, and its sizing for `coturn:capacity`.
 */
import { GLOBAL_CLOUD, LOCAL_CLOUD, type ParsedConfigKeys } from "./schema";
import { parsePortRange } from "./valueFormats";
import { CLOUD_PROFILES } from "./cloudProfiles";
import { MEDIA_BITRATES_KBPS, sizeRegion, type SizingPlan } from "./capacity";

/** True when coturn:ephemeral holds a time to live. */
export function isEphemeral(c: Partial<ParsedConfigKeys>): c is Partial<ParsedConfigKeys> & { ephemeral: string } {
  return c.ephemeral !== undefined && c.ephemeral !== "false";
}

/** The VM size a cloud stack gets: the configured one, or its cloud's default (the smallest for a test stack). */
export function effectiveInstanceType(c: Partial<ParsedConfigKeys>): string | undefined {
  if (c.cloud === undefined || c.cloud === LOCAL_CLOUD || c.cloud === GLOBAL_CLOUD) return undefined;
  return c.instanceType ?? (isEphemeral(c) ? CLOUD_PROFILES[c.cloud].testInstanceType : CLOUD_PROFILES[c.cloud].defaultInstanceType);
}

/** The sizing for `coturn:capacity`, once every key it reads has parsed; undefined without it. */
export function sizingOf(c: Partial<ParsedConfigKeys>): SizingPlan | undefined {
  const instanceType = effectiveInstanceType(c);
  const range = c.relayPorts === undefined ? undefined : parsePortRange(c.relayPorts);
  if (!c.capacity || !c.cloud || !instanceType || !c.listeners || !c.quotas || !c.serverCount || range === undefined || typeof range === "string") {
    return undefined;
  }
  return sizeRegion({
    peakCalls: c.capacity.peakCalls,
    participantsPerCall: c.capacity.participantsPerCall,
    bitrateKbps: c.capacity.bitrateKbps ?? MEDIA_BITRATES_KBPS[c.capacity.media],
    listeners: new Set(c.listeners),
    relayPorts: range,
    serverCount: c.serverCount,
    cloud: c.cloud,
    instanceType,
    quotas: c.quotas,
  });
}
