/**
 * Turns raw stack config (Pulumi's key -> text map) into a `StackConfig`, or one error that lists every problem with
 * the key, the bad value and the fix. The steps: each key on its own (`keyChecks.ts`), then the rules across keys
 * (`crossKeyRules.ts`, or `globalStackConfig.ts` for the global stack), then the typed config
 * (`assembleStackConfig.ts`, `globalStackConfig.ts`).
 */
import { GLOBAL_CLOUD, LOCAL_CLOUD, type ParsedConfigKeys } from "./schema";
import type { GlobalStackConfig, LocalStackConfig, StackConfig } from "./stackConfig";
import { StackConfigError, withoutSecrets, type ConfigProblem } from "./configProblems";
import { stackKindOf, type RawStackConfig, type StackKind } from "./rawStackConfig";
import { checkEachKey } from "./keyChecks";
import { crossKeyProblems, kindProblems } from "./crossKeyRules";
import { assembleGlobal, globalStackProblems } from "./globalStackConfig";
import { assembleLocal, assembleRegionStack } from "./assembleStackConfig";

/**
 * Validates a cloud stack's raw config and returns the typed config, or throws `StackConfigError` listing every
 * problem. A local stack (`coturn:cloud: local`) is one of the problems: it is run with `npm run local`.
 */
export function validateStackConfig(raw: RawStackConfig): StackConfig {
  const config = validateAnyStackConfig(raw, "cloud");
  if (config.cloud === LOCAL_CLOUD || config.cloud === GLOBAL_CLOUD) throw new Error("unreachable: a local or global stack was reported as a problem");
  return config;
}

/**
 * Validates a global stack's raw config (`coturn:cloud: global`), or throws `StackConfigError` listing every problem,
 * including region-stack keys that are set on it.
 */
export function validateGlobalStackConfig(raw: RawStackConfig): GlobalStackConfig {
  const config = validateAnyStackConfig(raw, "global");
  if (config.cloud !== GLOBAL_CLOUD) throw new Error("unreachable: a region stack was reported as a problem");
  return config;
}

/**
 * Validates a local stack's raw config (`coturn:cloud: local`, with the run's secret already added as
 * `coturn:authSecret`) and returns the typed config, or throws `StackConfigError` listing every problem: cloud-only
 * keys that are set, listeners and TLS modes a process of an ordinary user cannot serve, and a cloud stack.
 */
export function validateLocalStackConfig(raw: RawStackConfig): LocalStackConfig {
  const config = validateAnyStackConfig(raw, "local");
  if (config.cloud !== LOCAL_CLOUD) throw new Error("unreachable: a cloud stack was reported as a problem");
  return config;
}

/** Every problem of the config for a command that runs stacks of kind `expected`; throws when there is one. */
function validateAnyStackConfig(raw: RawStackConfig, expected: StackKind): StackConfig | LocalStackConfig | GlobalStackConfig {
  const kind = stackKindOf(raw);
  const { parsed, problems } = checkEachKey(raw, kind);
  problems.push(...rulesAcrossKeys(kind, expected, parsed, raw));
  if (problems.length > 0) throw new StackConfigError(raw.stack, withoutSecrets(problems, raw));

  const valid = parsed as ParsedConfigKeys;
  if (kind === "global") return assembleGlobal(raw, valid);
  return kind === "local" ? assembleLocal(raw.stack, valid) : assembleRegionStack(raw, valid);
}

/** The rules across keys of the stack's kind: the global stack's own, or those of region and local stacks. */
function rulesAcrossKeys(kind: StackKind, expected: StackKind, parsed: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
  if (kind === "global") return [...kindProblems(kind, expected), ...globalStackProblems(parsed, raw)];
  return crossKeyProblems(parsed, raw, expected);
}
