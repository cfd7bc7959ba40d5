/**
 * Secret rotation as pure logic (src/credentials/rotation.ts): every phase and flag, the refusals, --force, the
 * order of the config writes (an interrupted run never loses a secret the server accepts, and every config it can
 * leave behind validates, is finished by the next run, or names its one fix), and the drop window's arithmetic
 * across its boundary and with time-zone offsets in the stored times. No I/O: the config is the AWS example's with
 * test secrets.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { configKeySchemas } from "../src/config/schema";
import type { RotationState } from "../src/config/stackConfig";
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import type { RawStackConfig } from "../src/config/rawStackConfig";
import {
  ACCEPTED_FINGERPRINTS_OUTPUT,
  MAX_PREVIOUS_SECRETS,
  ROTATION_KEYS,
  acceptedFingerprintsFromOutputs,
  applyConfigChanges,
  dropAllowedFrom,
  formatDuration,
  formatUtc,
  generateAuthSecret,
  planRotation,
  resumableAdd,
  rotationInputFrom,
  type ConfigChange,
  type RotationFlags,
  type RotationInput,
  type RotationPlan,
} from "../src/credentials/rotation";
import { secretFingerprint } from "../src/credentials/turnRest";
import { exampleConfig } from "./support/program";

const OLD = "Old-test-secret-abcdefghijklmnopqrstuvwxyz012345";
const NEW = "New-test-secret-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const OLDER = ["Older-test-secret-1-abcdefghijklmnopqrstuvwxyz01", "Older-test-secret-2-abcdefghijklmnopqrstuvwxyz01"];
const NOW = new Date("2026-11-21T10:00:00Z");
const DAY = 86_400;
const NO_FLAGS: RotationFlags = { appsSwitched: false, force: false, status: false };
const fp = secretFingerprint;

function input(overrides: Partial<RotationInput> = {}): RotationInput {
  return {
    stack: "aws-prod",
    activeSecret: OLD,
    previousSecrets: [],
    maxCredentialTtlSeconds: DAY,
    deployedFingerprints: [fp(OLD)],
    now: NOW,
    newSecret: NEW,
    flags: NO_FLAGS,
    ...overrides,
  };
}

const added: RotationState = { phase: "added", addedAt: "2026-11-20T09:00:00Z" };
const switched = (switchedAt: string): RotationState => ({ phase: "switched", addedAt: "2026-11-20T09:00:00Z", switchedAt });

/** Every text of a plan a person reads: none may contain a secret. */
function texts(plan: RotationPlan): string[] {
  return [...plan.report, ...plan.next, ...plan.changes.map((c) => c.what), ...plan.secrets.map((s) => JSON.stringify(s))];
}

function assertNoSecrets(plan: RotationPlan): void {
  for (const text of texts(plan)) {
    for (const secret of [OLD, NEW, ...OLDER]) assert.ok(!text.includes(secret), `a secret shows in: ${text}`);
  }
}

describe("idle: add a new secret", () => {
  test("the new secret becomes authSecret, the old one goes to the front of previousAuthSecrets, the rotation is recorded", () => {
    const plan = planRotation(input({ previousSecrets: OLDER }));
    assert.equal(plan.outcome, "changed");
    assert.equal(plan.step, "add");
    assert.equal(plan.stage, "idle");
    assert.deepEqual(
      plan.changes.map((c) => (c.op === "set" ? { key: c.key, value: c.value, secret: c.secret } : c)),
      [
        { key: "coturn:previousAuthSecrets", value: JSON.stringify([OLD, ...OLDER]), secret: true },
        { key: "coturn:authSecret", value: NEW, secret: true },
        { key: "coturn:rotation", value: JSON.stringify({ phase: "added", addedAt: "2026-11-21T10:00:00Z" }), secret: false },
      ],
    );
    assert.deepEqual(
      plan.secrets.map((s) => [s.role, s.fingerprint, s.accepted]),
      [
        ["active", fp(NEW), "no"],
        ["previous", fp(OLD), "yes"],
        ["previous", fp(OLDER[0]), "no"],
        ["previous", fp(OLDER[1]), "no"],
      ],
    );
    assert.match(plan.report.join("\n"), new RegExp(`new secret ${fp(NEW)} as coturn:authSecret.*old secret ${fp(OLD)}`, "s"));
    assert.equal(plan.next.length, 3);
    assert.match(plan.next[0], /^pulumi up --stack aws-prod: the server then accepts the new secret as well as the old one/);
    assert.match(plan.next[1], /give every app the new secret/);
    assert.match(plan.next[2], /npm run rotate -- --stack aws-prod --apps-switched$/);
    assertNoSecrets(plan);
  });

  test("stored times are whole seconds in UTC", () => {
    const plan = planRotation(input({ now: new Date("2026-11-21T10:00:00.987Z") }));
    const rotation = plan.changes.find((c) => c.key === ROTATION_KEYS.rotation) as Extract<ConfigChange, { op: "set" }>;
    assert.deepEqual(JSON.parse(rotation.value), { phase: "added", addedAt: "2026-11-21T10:00:00Z" });
  });

  test("up to 5 previous secrets; a sixth is refused, naming the limit", () => {
    const four = ["a", "b", "c", "d"].map((c) => c.repeat(40));
    assert.equal(planRotation(input({ previousSecrets: four })).outcome, "changed");
    const five = ["a", "b", "c", "d", "e"].map((c) => c.repeat(40));
    const plan = planRotation(input({ previousSecrets: five }));
    assert.equal(MAX_PREVIOUS_SECRETS, 5);
    assert.equal(plan.outcome, "refused");
    assert.deepEqual(plan.changes, []);
    assert.match(plan.report[0], /coturn:previousAuthSecrets already holds 5 secrets; adding the current one would make 6, above the limit of 5/);
  });

  test("a run interrupted after its first write (the old secret in both keys) adds without a duplicate", () => {
    const plan = planRotation(input({ previousSecrets: [OLD, ...OLDER] }));
    const previous = plan.changes[0] as Extract<ConfigChange, { op: "set" }>;
    assert.deepEqual(JSON.parse(previous.value), [OLD, ...OLDER]);
  });

  test("leftover previous secrets without a rotation are reported with the way to drop them", () => {
    const plan = planRotation(input({ previousSecrets: OLDER, flags: { ...NO_FLAGS, status: true } }));
    assert.equal(plan.outcome, "unchanged");
    assert.match(plan.report.join("\n"), /holds 2 secrets .* although no rotation is in progress.*pulumi config rm coturn:previousAuthSecrets --stack aws-prod/s);
  });

  test("--status changes nothing; --apps-switched and --force are refused with the command that starts a rotation", () => {
    const status = planRotation(input({ flags: { ...NO_FLAGS, status: true } }));
    assert.equal(status.outcome, "unchanged");
    assert.deepEqual(status.changes, []);
    assert.match(status.report[0], /^No rotation in progress on stack aws-prod/);
    assert.deepEqual(status.next, ["To rotate the secret: npm run rotate -- --stack aws-prod"]);

    const switchedEarly = planRotation(input({ flags: { ...NO_FLAGS, appsSwitched: true } }));
    assert.equal(switchedEarly.outcome, "refused");
    assert.match(switchedEarly.report[0], /No rotation is in progress on stack aws-prod, so there is no switch to record/);
    const forced = planRotation(input({ flags: { ...NO_FLAGS, force: true } }));
    assert.equal(forced.outcome, "refused");
    assert.match(forced.report[0], /--force only skips the wait before the old secrets are dropped/);
    for (const plan of [switchedEarly, forced]) assert.deepEqual(plan.next, ["To start one: npm run rotate -- --stack aws-prod"]);
  });
});

describe("phase added", () => {
  const base = { activeSecret: NEW, previousSecrets: [OLD], rotation: added };

  test("without flags: status and the next step, nothing changed; pulumi up first while the server does not accept the new secret", () => {
    const notYet = planRotation(input({ ...base, deployedFingerprints: [fp(OLD)] }));
    assert.equal(notYet.outcome, "unchanged");
    assert.deepEqual(notYet.changes, []);
    assert.match(notYet.report.join("\n"), /phase added .* since 2026-11-20T09:00:00Z.*does not accept the new secret/s);
    assert.match(notYet.next[0], /^pulumi up --stack aws-prod/);

    const deployed = planRotation(input({ ...base, deployedFingerprints: [fp(NEW), fp(OLD)] }));
    assert.equal(deployed.outcome, "unchanged");
    assert.match(deployed.report.join("\n"), /The deployed server accepts the new secret/);
    assert.match(deployed.next[0], /^Give every app the new secret/);
    assert.match(deployed.next[1], /--apps-switched$/);
  });

  test("--apps-switched is refused until the deployed server accepts the new secret (not accepted, or unknown)", () => {
    for (const deployedFingerprints of [[fp(OLD)], undefined]) {
      const plan = planRotation(input({ ...base, deployedFingerprints, flags: { ...NO_FLAGS, appsSwitched: true } }));
      assert.equal(plan.outcome, "refused");
      assert.deepEqual(plan.changes, []);
      assert.match(plan.report[0], new RegExp(`^The server does not accept the new secret ${fp(NEW)} yet: run pulumi up --stack aws-prod\\. `));
      assert.match(plan.report[0], /Apps minting with it would get 401\.$/);
      if (!deployedFingerprints) assert.match(plan.report[0], new RegExp(`no ${ACCEPTED_FINGERPRINTS_OUTPUT} output`));
    }
  });

  test("--apps-switched once the server accepts it records phase switched, keeps addedAt, and says when the old secret may go", () => {
    const plan = planRotation(input({ ...base, deployedFingerprints: [fp(NEW), fp(OLD)], flags: { ...NO_FLAGS, appsSwitched: true } }));
    assert.equal(plan.outcome, "changed");
    assert.equal(plan.step, "switch");
    assert.deepEqual(plan.changes, [
      {
        op: "set",
        key: "coturn:rotation",
        value: JSON.stringify({ phase: "switched", addedAt: "2026-11-20T09:00:00Z", switchedAt: "2026-11-21T10:00:00Z" }),
        secret: false,
        what: "Recording that apps switched: coturn:rotation = phase switched, switchedAt 2026-11-21T10:00:00Z",
      },
    ]);
    assert.match(
      plan.next[0],
      new RegExp(`old secret\\(s\\) ${fp(OLD)} can be dropped from 2026-11-22T10:00:00Z \\(UTC, in 24h 0m; switchedAt \\+ coturn:maxCredentialTtl \\(86400 s`),
    );
    assert.match(plan.next[0], /npm run rotate -- --stack aws-prod$/);
    assert.match(plan.next[1], /^Then pulumi up --stack aws-prod/);
    assertNoSecrets(plan);
  });

  test("--force in phase added is refused (it only skips the drop window)", () => {
    const plan = planRotation(input({ ...base, deployedFingerprints: [fp(NEW), fp(OLD)], flags: { ...NO_FLAGS, force: true } }));
    assert.equal(plan.outcome, "refused");
    assert.match(plan.report[0], /this rotation is in phase added/);
  });
});

describe("phase switched: drop the old secrets", () => {
  const base = { activeSecret: NEW, previousSecrets: [OLD], deployedFingerprints: [fp(NEW), fp(OLD)] };

  test("before switchedAt + maxCredentialTtl: refused, naming the time left and the earliest UTC time", () => {
    const plan = planRotation(input({ ...base, rotation: switched("2026-11-21T06:30:00Z") }));
    assert.equal(plan.outcome, "refused");
    assert.deepEqual(plan.changes, []);
    assert.match(plan.report[0], new RegExp(`^Too early to drop the old secret\\(s\\) ${fp(OLD)}`));
    assert.match(plan.report[0], /20h 30m left: the earliest time is 2026-11-22T06:30:00Z \(UTC\)\./);
    assert.match(plan.next[0], /again from 2026-11-22T06:30:00Z, or now with --force/);
  });

  test("after the window: previousAuthSecrets removed, then the rotation record; next step pulumi up", () => {
    const plan = planRotation(input({ ...base, rotation: switched("2026-11-20T09:59:59Z") }));
    assert.equal(plan.outcome, "changed");
    assert.equal(plan.step, "drop");
    assert.deepEqual(
      plan.changes.map((c) => [c.op, c.key]),
      [
        ["remove", "coturn:previousAuthSecrets"],
        ["remove", "coturn:rotation"],
      ],
    );
    assert.deepEqual(plan.secrets.map((s) => [s.role, s.fingerprint]), [["active", fp(NEW)]]);
    assert.match(plan.next[0], new RegExp(`^pulumi up --stack aws-prod: the server then accepts only ${fp(NEW)}; credentials minted with the old secret\\(s\\) get 401`));
    assertNoSecrets(plan);
  });

  test("the window boundary: 1 ms before is refused, exactly at it is allowed", () => {
    const rotation = switched("2026-11-20T10:00:00Z");
    assert.equal(planRotation(input({ ...base, rotation, now: new Date(NOW.getTime() - 1) })).outcome, "refused");
    assert.equal(planRotation(input({ ...base, rotation, now: NOW })).outcome, "changed");
    const early = planRotation(input({ ...base, rotation, now: new Date(NOW.getTime() - 1) }));
    assert.match(early.report[0], /1s left: the earliest time is 2026-11-21T10:00:00Z/);
  });

  test("--force drops before the window and says so", () => {
    const plan = planRotation(input({ ...base, rotation: switched("2026-11-21T09:00:00Z"), flags: { ...NO_FLAGS, force: true } }));
    assert.equal(plan.outcome, "changed");
    assert.equal(plan.step, "drop");
    assert.match(plan.report[0], /\(forced, 23h 0m before 2026-11-22T09:00:00Z: credentials minted with them may still be in use\)/);
  });

  test("--status and a repeated --apps-switched change nothing and show when the drop is possible", () => {
    for (const flags of [{ ...NO_FLAGS, status: true }, { ...NO_FLAGS, appsSwitched: true }]) {
      const plan = planRotation(input({ ...base, rotation: switched("2026-11-21T09:00:00Z"), flags }));
      assert.equal(plan.outcome, "unchanged");
      assert.match(plan.next[0], /can be dropped from 2026-11-22T09:00:00Z \(UTC, in 23h 0m/);
    }
    const repeated = planRotation(input({ ...base, rotation: switched("2026-11-21T09:00:00Z"), flags: { ...NO_FLAGS, appsSwitched: true } }));
    assert.match(repeated.report.join("\n"), /already recorded at 2026-11-21T09:00:00Z; nothing changed/);
  });

  test("a shorter maxCredentialTtl shortens the window", () => {
    const rotation = switched("2026-11-21T09:00:00Z");
    assert.equal(planRotation(input({ ...base, rotation, maxCredentialTtlSeconds: 3600 })).outcome, "changed");
    assert.equal(planRotation(input({ ...base, rotation, maxCredentialTtlSeconds: 3601 })).outcome, "refused");
  });
});

describe("drop window arithmetic with stored time-zone offsets", () => {
  test("switchedAt with +02:00 and -05:00 offsets counts from the same instant in UTC", () => {
    assert.equal(formatUtc(dropAllowedFrom("2026-11-21T12:00:00+02:00", 3600)), "2026-11-21T11:00:00Z");
    assert.equal(formatUtc(dropAllowedFrom("2026-11-21T05:00:00-05:00", 3600)), "2026-11-21T11:00:00Z");
    assert.equal(formatUtc(dropAllowedFrom("2026-11-21T23:30:00-05:00", DAY)), "2026-11-23T04:30:00Z");
  });

  test("the boundary with an offset: refused a second before 11:00Z, allowed at 11:00Z", () => {
    const base = { activeSecret: NEW, previousSecrets: [OLD], maxCredentialTtlSeconds: 3600, rotation: switched("2026-11-21T12:00:00+02:00") };
    const before = planRotation(input({ ...base, now: new Date("2026-11-21T10:59:59Z") }));
    assert.equal(before.outcome, "refused");
    assert.match(before.report[0], /1s left: the earliest time is 2026-11-21T11:00:00Z \(UTC\)/);
    assert.equal(planRotation(input({ ...base, now: new Date("2026-11-21T11:00:00Z") })).outcome, "changed");
  });

  test("fractions of a second round the shown time up, never too early", () => {
    assert.equal(formatUtc(new Date("2026-11-21T10:00:00.001Z")), "2026-11-21T10:00:01Z");
    assert.equal(formatUtc(dropAllowedFrom("2026-11-21T10:00:00.500Z", 60)), "2026-11-21T10:01:01Z");
  });

  test("durations are rounded up", () => {
    assert.deepEqual([0, 1, 999, 59_000, 60_000, 61_000, 3_600_000, 3_660_001, DAY * 1000].map(formatDuration), [
      "0s",
      "1s",
      "1s",
      "59s",
      "1m",
      "2m",
      "1h 0m",
      "1h 2m",
      "24h 0m",
    ]);
  });

  test("a stored time that is not ISO 8601 gives an error naming the key", () => {
    assert.throws(() => dropAllowedFrom("yesterday", 60), /coturn:rotation\.switchedAt = "yesterday" is not an ISO 8601 time/);
  });
});

describe("generated secrets and deployed fingerprints", () => {
  test("a generated secret is 48 base64url characters from 36 random bytes, and the schema accepts it", () => {
    const secrets = Array.from({ length: 20 }, generateAuthSecret);
    for (const secret of secrets) {
      assert.match(secret, /^[A-Za-z0-9_-]{48}$/);
      assert.equal(Buffer.from(secret, "base64url").length, 36);
      assert.ok(configKeySchemas.authSecret.safeParse(secret).success);
    }
    assert.equal(new Set(secrets).size, secrets.length);
  });

  test("acceptedSecretFingerprints is read only when it is a list of fingerprints", () => {
    assert.deepEqual(acceptedFingerprintsFromOutputs({ acceptedSecretFingerprints: [fp(OLD)] }), [fp(OLD)]);
    assert.deepEqual(acceptedFingerprintsFromOutputs({ acceptedSecretFingerprints: [] }), []);
    for (const outputs of [{}, { acceptedSecretFingerprints: "[secret]" }, { acceptedSecretFingerprints: [OLD] }, { acceptedSecretFingerprints: [1] }]) {
      assert.equal(acceptedFingerprintsFromOutputs(outputs), undefined);
    }
  });
});

describe("a whole rotation on the AWS example's config, interrupted after every write", () => {
  function exampleRaw(): RawStackConfig {
    const raw = exampleConfig("aws-example");
    return { stack: "aws-example", values: { ...raw.values, "coturn:authSecret": OLD }, secretKeys: new Set(raw.secretKeys) };
  }
  /** The secrets a config makes the server accept. */
  const accepted = (raw: RawStackConfig): string[] => [
    raw.values["coturn:authSecret"],
    ...(raw.values["coturn:previousAuthSecrets"] === undefined ? [] : (JSON.parse(raw.values["coturn:previousAuthSecrets"]) as string[])),
  ];
  /** Validates the config after each prefix of the changes (what an interrupted run leaves). */
  function eachPrefix(raw: RawStackConfig, changes: readonly ConfigChange[]): RawStackConfig[] {
    return changes.map((_, i) => applyConfigChanges(raw, changes.slice(0, i + 1)));
  }

  test("add -> switch -> drop, each step planned from the validated config the previous one left", () => {
    let raw = exampleRaw();
    const step = (deployedFingerprints: readonly string[] | undefined, now: Date, flags: RotationFlags = NO_FLAGS): RotationPlan => {
      const config = validateStackConfig(raw);
      const plan = planRotation(rotationInputFrom(config, { deployedFingerprints, now, newSecret: NEW, flags }));
      assert.equal(plan.outcome, "changed", plan.report.join("\n"));
      return plan;
    };

    const add = step([fp(OLD)], NOW);
    const partials = eachPrefix(raw, add.changes);
    for (const partial of partials) {
      assert.ok(accepted(partial).includes(OLD), "the old secret must stay accepted at every moment");
    }
    // After the first write the old secret is both active and previous: validation refuses the repeat (no order of
    // single-key writes avoids it), and the rotate command finishes the step from there.
    assert.throws(() => validateStackConfig(partials[0]), /coturn:previousAuthSecrets = \(secret\): repeats a secret/);
    const resumed = resumableAdd(partials[0]);
    assert.ok(resumed, "an add interrupted after its first write must be resumable");
    const finish = planRotation(rotationInputFrom(validateStackConfig(resumed), { deployedFingerprints: [fp(OLD)], now: NOW, newSecret: NEW, flags: NO_FLAGS }));
    assert.deepEqual(finish.changes, add.changes);
    assert.deepEqual(validateStackConfig(applyConfigChanges(partials[0], finish.changes)).authSecrets, [NEW, OLD]);
    // Every later interrupted state is valid as it is.
    for (const partial of partials.slice(1)) validateStackConfig(partial);
    assert.equal(resumableAdd(raw), undefined);
    assert.equal(resumableAdd(partials[1]), undefined);
    raw = applyConfigChanges(raw, add.changes);
    const afterAdd = validateStackConfig(raw);
    assert.deepEqual(afterAdd.authSecrets, [NEW, OLD]);
    assert.deepEqual(afterAdd.rotation, { phase: "added", addedAt: "2026-11-21T10:00:00Z" });
    assert.ok(raw.secretKeys.has("coturn:previousAuthSecrets") && raw.secretKeys.has("coturn:authSecret"));

    const switchNow = new Date("2026-11-21T10:20:00Z");
    const switchPlan = step([fp(NEW), fp(OLD)], switchNow, { ...NO_FLAGS, appsSwitched: true });
    raw = applyConfigChanges(raw, switchPlan.changes);
    assert.deepEqual(validateStackConfig(raw).rotation, { phase: "switched", addedAt: "2026-11-21T10:00:00Z", switchedAt: "2026-11-21T10:20:00Z" });

    const drop = step([fp(NEW), fp(OLD)], new Date("2026-11-22T10:20:00Z"));
    const [interrupted] = eachPrefix(raw, drop.changes);
    // An interrupted drop leaves the rotation record without old secrets: validation names the one command to finish.
    assert.throws(() => validateStackConfig(interrupted), (error: unknown) => {
      assert.ok(error instanceof StackConfigError);
      assert.match(error.message, /coturn:rotation .*Remove it: pulumi config rm coturn:rotation/);
      return true;
    });
    raw = applyConfigChanges(raw, drop.changes);
    const done = validateStackConfig(raw);
    assert.deepEqual(done.authSecrets, [NEW]);
    assert.equal(done.rotation, undefined);
    assert.equal(raw.values["coturn:previousAuthSecrets"], undefined);
  });
});
