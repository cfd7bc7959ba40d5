/**
 * Secret rotation as pure logic (no I/O): from a stack's current secrets, its rotation state, what the deployed
 * server reported it accepts, the time and the operator's flags, decide the next step and the exact, ordered config
 * changes. `npm run rotate` reads the inputs and applies the changes through the Pulumi CLI.
 *
 * The procedure, one run of `npm run rotate` per step:
 * 1. add: a new secret becomes `coturn:authSecret`, the old one moves to the front of `coturn:previousAuthSecrets`
 *    (both accepted after `pulumi up`); apps then switch to the new one.
 * 2. switch (`--apps-switched`): records when every app mints with the new secret; refused until the deployed server
 *    accepts it.
 * 3. drop: once `coturn:maxCredentialTtl` has passed since the switch (every credential minted with an old secret has
 *    expired), removes the old secrets; `pulumi up` then makes the server refuse them.
 *
 * Nothing here returns or formats a secret except the values of the config changes themselves: messages name
 * secrets by their fingerprint.
 */
import { randomBytes } from "node:crypto";
import type { RotationState, StackConfig } from "../config/stackConfig";
import type { RawStackConfig } from "../config/rawStackConfig";
import { secretFingerprint } from "./turnRest";

/** The config keys a rotation writes. */
export const ROTATION_KEYS = {
  /** The active secret apps mint with. */
  authSecret: "coturn:authSecret",
  /** Secrets still accepted during a rotation, newest first. */
  previousAuthSecrets: "coturn:previousAuthSecrets",
  /** The rotation record. */
  rotation: "coturn:rotation",
} as const;

/** The most secrets `coturn:previousAuthSecrets` may hold (the schema's limit). */
export const MAX_PREVIOUS_SECRETS = 5;

/** The stack output in which the deployed VM reports the fingerprints of the secrets its coturn accepts. */
export const ACCEPTED_FINGERPRINTS_OUTPUT = "acceptedSecretFingerprints";

/** Bytes of randomness in a generated secret: 288 bits, 48 base64url characters. */
export const GENERATED_SECRET_BYTES = 36;

/**
 * A new strong secret: 36 random bytes as base64url (48 characters of A-Z a-z 0-9 - _, all allowed in
 * turnserver.conf and by the config schema).
 */
export function generateAuthSecret(): string {
  return randomBytes(GENERATED_SECRET_BYTES).toString("base64url");
}

/** Where a stack is in a rotation: `idle` when no rotation is recorded. */
export type RotationStage = "idle" | RotationState["phase"];

/** The operator's flags of `npm run rotate`. */
export interface RotationFlags {
  /** `--apps-switched`: every app now mints with the new secret. */
  readonly appsSwitched: boolean;
  /** `--force`: drop the old secrets before `maxCredentialTtl` has passed since the switch. */
  readonly force: boolean;
  /** `--status`: only report, change nothing. */
  readonly status: boolean;
}

/** Everything a rotation step is decided from. */
export interface RotationInput {
  /** Stack name (for the commands in the next steps). */
  readonly stack: string;
  /** `coturn:authSecret`. */
  readonly activeSecret: string;
  /** `coturn:previousAuthSecrets`, newest first. */
  readonly previousSecrets: readonly string[];
  /** `coturn:rotation`, when a rotation is in progress. */
  readonly rotation?: RotationState;
  /** `coturn:maxCredentialTtl` in seconds. */
  readonly maxCredentialTtlSeconds: number;
  /**
   * Fingerprints of the secrets the deployed server accepts (the `acceptedSecretFingerprints` output), or
   * undefined when unknown (never deployed, or deployed before that output existed).
   */
  readonly deployedFingerprints: readonly string[] | undefined;
  /** The current time. */
  readonly now: Date;
  /** A freshly generated secret, used only by the add step. */
  readonly newSecret: string;
  /** The operator's flags. */
  readonly flags: RotationFlags;
}

/** One config write, in the order it must be applied. Its `what` never contains a secret. */
export type ConfigChange =
  | {
      readonly op: "set";
      /** Full key, e.g. `coturn:authSecret`. */
      readonly key: string;
      /** The text to store (JSON text for a list or an object, which Pulumi passes to the program unchanged). */
      readonly value: string;
      /** Stored encrypted (`--secret`). */
      readonly secret: boolean;
      /** One line saying what the write does. */
      readonly what: string;
    }
  | {
      readonly op: "remove";
      /** Full key. */
      readonly key: string;
      /** One line saying what the removal does. */
      readonly what: string;
    };

/** Whether the deployed server accepts a secret. */
export type Acceptance = "yes" | "no" | "unknown";

/** One secret of a stack, as the operator sees it (no secret, only its fingerprint). */
export interface SecretRow {
  /** `active`: apps mint with it; `previous`: still accepted during a rotation. */
  readonly role: "active" | "previous";
  /** First 16 hex digits of its SHA-256. */
  readonly fingerprint: string;
  /** Whether the deployed server reported it accepts it. */
  readonly accepted: Acceptance;
}

/** The decided step: what to change (in order), what to tell the operator, and what to do next. */
export interface RotationPlan {
  /** `changed`: apply `changes`; `unchanged`: only report; `refused`: report why, change nothing (exit 1). */
  readonly outcome: "changed" | "unchanged" | "refused";
  /** The step this run took. */
  readonly step: "add" | "switch" | "drop" | "status";
  /** Where the stack was before this run. */
  readonly stage: RotationStage;
  /** The config writes, in order; empty unless `changed`. */
  readonly changes: readonly ConfigChange[];
  /** The stack's secrets once the changes are applied. */
  readonly secrets: readonly SecretRow[];
  /** What was done, the status, or why it was refused. */
  readonly report: readonly string[];
  /** What the operator does next, in order. */
  readonly next: readonly string[];
}

/** Rows for a stack's secrets: the active one first, then the previous ones, each with what the server accepts. */
export function secretRows(
  activeSecret: string,
  previousSecrets: readonly string[],
  deployedFingerprints: readonly string[] | undefined,
): SecretRow[] {
  const row = (role: SecretRow["role"], secret: string): SecretRow => {
    const fingerprint = secretFingerprint(secret);
    return { role, fingerprint, accepted: acceptance(fingerprint, deployedFingerprints) };
  };
  return [row("active", activeSecret), ...previousSecrets.map((s) => row("previous", s))];
}

/** Whether `fingerprint` is among the deployed ones (`unknown` when those are not known). */
export function acceptance(fingerprint: string, deployedFingerprints: readonly string[] | undefined): Acceptance {
  if (deployedFingerprints === undefined) return "unknown";
  return deployedFingerprints.includes(fingerprint) ? "yes" : "no";
}

/**
 * The deployed server's accepted fingerprints from a stack's outputs, or undefined when they are not there (never
 * deployed, deployed before the output existed, or not a list of fingerprints).
 */
export function acceptedFingerprintsFromOutputs(outputs: Readonly<Record<string, unknown>>): readonly string[] | undefined {
  const value = outputs[ACCEPTED_FINGERPRINTS_OUTPUT];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === "string" && /^[0-9a-f]{16}$/.test(v))) {
    return undefined;
  }
  return value;
}

/** The inputs of a rotation step read from a validated cloud stack config. */
export function rotationInputFrom(
  config: Pick<StackConfig, "stack" | "authSecrets" | "rotation" | "maxCredentialTtlSeconds">,
  rest: Pick<RotationInput, "deployedFingerprints" | "now" | "newSecret" | "flags">,
): RotationInput {
  const [activeSecret, ...previousSecrets] = config.authSecrets;
  return {
    stack: config.stack,
    activeSecret,
    previousSecrets,
    ...(config.rotation === undefined ? {} : { rotation: config.rotation }),
    maxCredentialTtlSeconds: config.maxCredentialTtlSeconds,
    ...rest,
  };
}

/** Parses a stored ISO time (any offset); throws an Error naming the key for text that is not a time. */
export function parseStoredTime(key: string, text: string): Date {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms)) {
    throw new Error(`${key} = ${JSON.stringify(text)} is not an ISO 8601 time such as 2026-11-21T10:00:00Z: remove ${ROTATION_KEYS.rotation} and start again`);
  }
  return new Date(ms);
}

/** The earliest time the old secrets may be dropped: `switchedAt` + `maxCredentialTtl`. */
export function dropAllowedFrom(switchedAt: string, maxCredentialTtlSeconds: number): Date {
  return new Date(parseStoredTime(`${ROTATION_KEYS.rotation}.switchedAt`, switchedAt).getTime() + maxCredentialTtlSeconds * 1000);
}

/** A time in UTC to the second, e.g. `2026-11-21T10:00:00Z`; a fraction of a second rounds up (never too early). */
export function formatUtc(time: Date): string {
  return new Date(Math.ceil(time.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** A time rounded down to the second, as stored in the rotation record. */
function storedTime(time: Date): string {
  return new Date(Math.floor(time.getTime() / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** A duration for people, rounded up: `45s`, `12m`, `3h 5m`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.ceil(seconds / 60);
  const hours = Math.floor(minutes / 60);
  return hours === 0 ? `${minutes}m` : `${hours}h ${minutes % 60}m`;
}

/** The config as it will be once `changes` are applied, e.g. to validate it before writing anything. */
export function applyConfigChanges(raw: RawStackConfig, changes: readonly ConfigChange[]): RawStackConfig {
  const values: Record<string, string> = { ...raw.values };
  const secretKeys = new Set(raw.secretKeys);
  for (const change of changes) {
    if (change.op === "set") {
      values[change.key] = change.value;
      if (change.secret) secretKeys.add(change.key);
      else secretKeys.delete(change.key);
    } else {
      delete values[change.key];
      secretKeys.delete(change.key);
    }
  }
  return { ...raw, values, secretKeys };
}

/**
 * The config an add step interrupted after its first write left behind, made plannable again: the current secret
 * is both `coturn:authSecret` and the first of `coturn:previousAuthSecrets`, with no rotation recorded (validation
 * refuses the repeated secret). Returns the config without that repeat (in memory only; planning the add from it
 * rewrites the same list and finishes the step), or undefined for any other config.
 *
 * No order of single-key writes avoids that state: the old secret must be listed as previous before the new one
 * replaces it as active, or an interrupted run would lose a secret the server accepts.
 */
export function resumableAdd(raw: RawStackConfig): RawStackConfig | undefined {
  const active = raw.values[ROTATION_KEYS.authSecret];
  const listed = raw.values[ROTATION_KEYS.previousAuthSecrets];
  if (raw.values[ROTATION_KEYS.rotation] !== undefined || active === undefined || listed === undefined) return undefined;
  let previous: unknown;
  try {
    previous = JSON.parse(listed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(previous) || previous[0] !== active) return undefined;
  const values: Record<string, string> = { ...raw.values };
  const rest = previous.slice(1) as unknown[];
  if (rest.length === 0) delete values[ROTATION_KEYS.previousAuthSecrets];
  else values[ROTATION_KEYS.previousAuthSecrets] = JSON.stringify(rest);
  return { ...raw, values };
}

/** Decides this run's step and its config changes. Never throws for a state a stack can be in; refusals are plans. */
export function planRotation(input: RotationInput): RotationPlan {
  const stage: RotationStage = input.rotation?.phase ?? "idle";
  if (stage === "idle") return planIdle(input);
  if (stage === "added") return planAdded(input, input.rotation as RotationState);
  return planSwitched(input, input.rotation as RotationState);
}

const rotateCommand = (stack: string, flag = ""): string => `npm run rotate -- --stack ${stack}${flag ? ` ${flag}` : ""}`;
const upCommand = (stack: string): string => `pulumi up --stack ${stack}`;
const fingerprints = (secrets: readonly string[]): string => secrets.map(secretFingerprint).join(", ");
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function currentRows(input: RotationInput): SecretRow[] {
  return secretRows(input.activeSecret, input.previousSecrets, input.deployedFingerprints);
}

function refused(input: RotationInput, stage: RotationStage, report: string[], next: string[]): RotationPlan {
  return { outcome: "refused", step: "status", stage, changes: [], secrets: currentRows(input), report, next };
}

function status(input: RotationInput, stage: RotationStage, report: string[], next: string[]): RotationPlan {
  return { outcome: "unchanged", step: "status", stage, changes: [], secrets: currentRows(input), report, next };
}

function planIdle(input: RotationInput): RotationPlan {
  const { stack, flags, previousSecrets } = input;
  const leftovers =
    previousSecrets.length === 0
      ? []
      : [
          `${ROTATION_KEYS.previousAuthSecrets} holds ${plural(previousSecrets.length, "secret")} (${fingerprints(previousSecrets)}) although no ` +
            "rotation is in progress (set by hand, or a rotation run was interrupted). The server keeps accepting them until they are " +
            `removed: once no app has minted with them for ${ttlText(input)}, run pulumi config rm ${ROTATION_KEYS.previousAuthSecrets} --stack ${stack}, then ${upCommand(stack)}.`,
        ];
  if (flags.status) {
    return status(input, "idle", [`No rotation in progress on stack ${stack}.`, ...leftovers], [`To rotate the secret: ${rotateCommand(stack)}`]);
  }
  if (flags.appsSwitched) {
    return refused(
      input,
      "idle",
      [`No rotation is in progress on stack ${stack}, so there is no switch to record (--apps-switched).`],
      [`To start one: ${rotateCommand(stack)}`],
    );
  }
  if (flags.force) {
    return refused(
      input,
      "idle",
      [`--force only skips the wait before the old secrets are dropped (phase switched); no rotation is in progress on stack ${stack}.`],
      [`To start one: ${rotateCommand(stack)}`],
    );
  }
  const { activeSecret, newSecret, now } = input;
  // Without duplicates: a run interrupted after its first write left the current secret in both keys.
  const previous = [activeSecret, ...previousSecrets.filter((s) => s !== activeSecret)];
  if (previous.length > MAX_PREVIOUS_SECRETS) {
    return refused(
      input,
      "idle",
      [
        `${ROTATION_KEYS.previousAuthSecrets} already holds ${previousSecrets.length} secrets; adding the current one would make ` +
          `${previous.length}, above the limit of ${MAX_PREVIOUS_SECRETS}.`,
        ...leftovers,
      ],
      [`Drop the old secrets first (see above), then run ${rotateCommand(stack)} again.`],
    );
  }
  if (newSecret === activeSecret || previousSecrets.includes(newSecret) || newSecret.length < 32) {
    throw new Error("unreachable: the generated secret is too short or already in use");
  }
  const rotation: RotationState = { phase: "added", addedAt: storedTime(now) };
  const oldFp = secretFingerprint(activeSecret);
  const newFp = secretFingerprint(newSecret);
  // The order keeps every accepted secret in the config at every moment: an interrupted run leaves the old secret
  // in both keys (which validation refuses and `resumableAdd` finishes), or the new one active with the old one
  // still listed, never the old one gone.
  const changes: ConfigChange[] = [
    {
      op: "set",
      key: ROTATION_KEYS.previousAuthSecrets,
      value: JSON.stringify(previous),
      secret: true,
      what:
        `Keeping the current secret ${oldFp} accepted: ${ROTATION_KEYS.previousAuthSecrets} = ${oldFp}` +
        (previous.length > 1 ? ` and ${plural(previous.length - 1, "older secret")}` : ""),
    },
    { op: "set", key: ROTATION_KEYS.authSecret, value: newSecret, secret: true, what: `Making the new secret ${newFp} active: ${ROTATION_KEYS.authSecret}` },
    {
      op: "set",
      key: ROTATION_KEYS.rotation,
      value: JSON.stringify(rotation),
      secret: false,
      what: `Recording the rotation: ${ROTATION_KEYS.rotation} = phase added, addedAt ${rotation.addedAt}`,
    },
  ];
  return {
    outcome: "changed",
    step: "add",
    stage: "idle",
    changes,
    secrets: secretRows(newSecret, previous, input.deployedFingerprints),
    report: [
      `Added a new secret ${newFp} as ${ROTATION_KEYS.authSecret}. The old secret ${oldFp} moved to the front of ` +
        `${ROTATION_KEYS.previousAuthSecrets}, so the server keeps accepting it.`,
    ],
    next: [
      `${upCommand(stack)}: the server then accepts the new secret as well as the old one(s).`,
      `Then give every app the new secret (fingerprint ${newFp}; pulumi config get ${ROTATION_KEYS.authSecret} --stack ${stack}), so they mint with it.`,
      `When every app mints with it: ${rotateCommand(stack, "--apps-switched")}`,
    ],
  };
}

function planAdded(input: RotationInput, rotation: RotationState): RotationPlan {
  const { stack, flags, activeSecret, deployedFingerprints } = input;
  const activeFp = secretFingerprint(activeSecret);
  const accepted = acceptance(activeFp, deployedFingerprints);
  const since = `Rotation in progress on stack ${stack}: phase added (the new secret ${activeFp} is active) since ${rotation.addedAt}.`;
  const notDeployed =
    accepted === "unknown"
      ? `Stack ${stack} reports no ${ACCEPTED_FINGERPRINTS_OUTPUT} output (never deployed, or deployed by an older version), so whether the server accepts the new secret ${activeFp} is unknown.`
      : `The deployed server does not accept the new secret ${activeFp} yet.`;
  const switchSteps = [
    `Give every app the new secret (fingerprint ${activeFp}; pulumi config get ${ROTATION_KEYS.authSecret} --stack ${stack}), so they mint with it.`,
    `When every app mints with it: ${rotateCommand(stack, "--apps-switched")}`,
  ];
  const upFirst = [`${upCommand(stack)}: the server then accepts the new secret as well as the old one(s).`, ...switchSteps];

  if (flags.status || (!flags.appsSwitched && !flags.force)) {
    return status(
      input,
      "added",
      [since, accepted === "yes" ? `The deployed server accepts the new secret ${activeFp}.` : notDeployed],
      accepted === "yes" ? switchSteps : upFirst,
    );
  }
  if (!flags.appsSwitched) {
    return refused(
      input,
      "added",
      [`--force only skips the wait before the old secrets are dropped (phase switched); this rotation is in phase added.`],
      accepted === "yes" ? switchSteps : upFirst,
    );
  }
  if (accepted !== "yes") {
    return refused(
      input,
      "added",
      [
        `The server does not accept the new secret ${activeFp} yet: run ${upCommand(stack)}. ` +
          (accepted === "unknown" ? `${notDeployed} ` : "") +
          "Apps minting with it would get 401.",
      ],
      upFirst,
    );
  }
  const switchedAt = storedTime(input.now);
  const next: RotationState = { phase: "switched", addedAt: rotation.addedAt, switchedAt };
  const plan = { ...input, rotation: next };
  return {
    outcome: "changed",
    step: "switch",
    stage: "added",
    changes: [
      {
        op: "set",
        key: ROTATION_KEYS.rotation,
        value: JSON.stringify(next),
        secret: false,
        what: `Recording that apps switched: ${ROTATION_KEYS.rotation} = phase switched, switchedAt ${switchedAt}`,
      },
    ],
    secrets: currentRows(input),
    report: [`Recorded that every app mints with the new secret ${activeFp} (switchedAt ${switchedAt}).`],
    next: dropSteps(plan, next),
  };
}

function ttlText(input: Pick<RotationInput, "maxCredentialTtlSeconds">): string {
  return `coturn:maxCredentialTtl (${input.maxCredentialTtlSeconds} s = ${formatDuration(input.maxCredentialTtlSeconds * 1000)})`;
}

/** The next steps in phase switched: when and how to drop the old secrets. */
function dropSteps(input: RotationInput, rotation: RotationState): string[] {
  const from = dropAllowedFrom(rotation.switchedAt ?? "", input.maxCredentialTtlSeconds);
  const left = from.getTime() - input.now.getTime();
  const when =
    left > 0
      ? `from ${formatUtc(from)} (UTC, in ${formatDuration(left)}; switchedAt + ${ttlText(input)}, when every credential minted with them has expired)`
      : `now (${ttlText(input)} has passed since the switch, so every credential minted with them has expired)`;
  return [
    `The old secret(s) ${fingerprints(input.previousSecrets)} can be dropped ${when}: ${rotateCommand(input.stack)}`,
    `Then ${upCommand(input.stack)}: the server then refuses the old secret(s).`,
  ];
}

function planSwitched(input: RotationInput, rotation: RotationState): RotationPlan {
  const { stack, flags, previousSecrets, now } = input;
  const from = dropAllowedFrom(rotation.switchedAt ?? "", input.maxCredentialTtlSeconds);
  const left = from.getTime() - now.getTime();
  const since = `Rotation in progress on stack ${stack}: phase switched (apps mint with ${secretFingerprint(input.activeSecret)}) since ${rotation.switchedAt ?? "?"}.`;
  if (flags.status || flags.appsSwitched) {
    const already = flags.appsSwitched && !flags.status ? [`The switch was already recorded at ${rotation.switchedAt ?? "?"}; nothing changed.`] : [];
    return status(input, "switched", [since, ...already], dropSteps(input, rotation));
  }
  if (left > 0 && !flags.force) {
    return refused(
      input,
      "switched",
      [
        `Too early to drop the old secret(s) ${fingerprints(previousSecrets)}: apps may have minted credentials with them until ` +
          `${rotation.switchedAt ?? "?"}, and those stay valid for up to ${ttlText(input)}. ` +
          `${formatDuration(left)} left: the earliest time is ${formatUtc(from)} (UTC).`,
      ],
      [
        `Run ${rotateCommand(stack)} again from ${formatUtc(from)}, or now with --force (clients holding a credential minted with an old secret then get 401 on their next allocation).`,
      ],
    );
  }
  const changes: ConfigChange[] = [];
  if (previousSecrets.length > 0) {
    changes.push({
      op: "remove",
      key: ROTATION_KEYS.previousAuthSecrets,
      what: `Dropping the old secret(s) ${fingerprints(previousSecrets)}: removing ${ROTATION_KEYS.previousAuthSecrets}`,
    });
  }
  // Removed last: an interrupted run leaves the rotation recorded (validation then names the one command to finish).
  changes.push({ op: "remove", key: ROTATION_KEYS.rotation, what: `Ending the rotation: removing ${ROTATION_KEYS.rotation}` });
  const forced = left > 0 ? ` (forced, ${formatDuration(left)} before ${formatUtc(from)}: credentials minted with them may still be in use)` : "";
  return {
    outcome: "changed",
    step: "drop",
    stage: "switched",
    changes,
    secrets: secretRows(input.activeSecret, [], input.deployedFingerprints),
    report: [`Dropped the old secret(s) ${fingerprints(previousSecrets)} from the config${forced}. The rotation is complete.`],
    next: [
      `${upCommand(stack)}: the server then accepts only ${secretFingerprint(input.activeSecret)}; credentials minted with the old secret(s) get 401.`,
    ],
  };
}
