/**
 * Stack config as Pulumi hands it to a program, before validation: full `namespace:key` names with text values, and
 * the kind of stack it says it is. Validation starts from this; so do the readers of stack files and of the engine.
 */
import { CONFIG_NAMESPACE, GLOBAL_CLOUD, LOCAL_CLOUD } from "./schema";

/** Raw config as Pulumi hands it to a program: `namespace:key` -> text, JSON text for lists and objects. */
export interface RawStackConfig {
  /** Pulumi stack name. */
  readonly stack: string;
  /** Every config value of the stack, all namespaces. */
  readonly values: Readonly<Record<string, string>>;
  /** Keys whose value is stored encrypted. */
  readonly secretKeys: ReadonlySet<string>;
  /** Encrypted keys whose plaintext is not available here: checks of their content are skipped. */
  readonly opaqueKeys?: ReadonlySet<string>;
}

/** `coturn:<key>`. */
export const fullKey = (key: string): string => `${CONFIG_NAMESPACE}:${key}`;

/** True when the raw config says `coturn:cloud: local` (a stack for `npm run local`, never deployed). */
export function isLocalStack(raw: RawStackConfig): boolean {
  return raw.values[fullKey("cloud")] === LOCAL_CLOUD;
}

/** True when the raw config says `coturn:cloud: global` (GeoDNS in front of region stacks). */
export function isGlobalStack(raw: RawStackConfig): boolean {
  return raw.values[fullKey("cloud")] === GLOBAL_CLOUD;
}

/** What a stack is: a region on a cloud, the local target, or the global stack in front of regions. */
export type StackKind = "cloud" | "local" | "global";

/** The kind of stack the raw config says it is (a region stack unless `coturn:cloud` says local or global). */
export function stackKindOf(raw: RawStackConfig): StackKind {
  return isLocalStack(raw) ? "local" : isGlobalStack(raw) ? "global" : "cloud";
}
