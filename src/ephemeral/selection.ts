/**
 * Which stacks `npm run destroy-test-stacks` destroys: a pure decision per stack from its listing, its tags and the
 * clock, so the rules can be tested without a CLI. A stack without a readable ephemeral marker is never destroyed,
 * whatever the flags.
 */
import { describeLength, type Duration } from "../config/duration";
import { readEphemeralMark, type EphemeralMark } from "./ephemeralMark";

/** One stack as the backend lists it, with its tags. */
export interface ListedStack {
  /** Stack name as `pulumi stack ls` prints it. */
  readonly name: string;
  /** The stack's last update, when it has one. */
  readonly lastUpdate?: Date;
  /** True while an update of the stack is running. */
  readonly updateInProgress?: boolean;
  /** Resources in its state, when known. */
  readonly resourceCount?: number;
  /** Its stack tags. */
  readonly tags: Readonly<Record<string, string>>;
}

/** The flags that add stacks to the expired ones. */
export interface SelectionOptions {
  /** The moment to judge expiry at. */
  readonly now: Date;
  /** Also select test stacks whose name matches this glob (`*`, `?`). */
  readonly match?: string;
  /** Also select test stacks whose last update is at least this old. */
  readonly olderThan?: Duration;
}

/** What happens to one stack. */
export interface StackDecision {
  /** The stack. */
  readonly stack: ListedStack;
  /** What its tags say. */
  readonly mark: EphemeralMark;
  /** `destroy`: selected; `keep`: not selected, as intended; `skip`: would qualify but cannot safely be touched. */
  readonly action: "destroy" | "keep" | "skip";
  /** Why, in a few words for the plan table. */
  readonly reason: string;
}

/** A glob of stack names (`*` any run of characters, `?` one) as a whole-name regular expression. */
export function globPattern(glob: string): RegExp {
  const body = [...glob].map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[\\^$.|+()[\]{}]/g, "\\$&"))).join("");
  return new RegExp(`^${body}$`);
}

/** When `moment` is, relative to `now`: `in 3h 20m` or `2h ago`. */
export function relativeTo(now: Date, moment: Date): string {
  const delta = moment.getTime() - now.getTime();
  return delta > 0 ? `in ${describeLength(delta)}` : `${describeLength(delta)} ago`;
}

/** Decides, for each listed stack, whether it is destroyed. */
export function decide(stacks: readonly ListedStack[], options: SelectionOptions): StackDecision[] {
  const pattern = options.match === undefined ? undefined : globPattern(options.match);
  const byFlags = (stack: ListedStack): string | undefined => {
    if (pattern === undefined && options.olderThan === undefined) return undefined;
    if (pattern && !pattern.test(stack.name)) return undefined;
    if (options.olderThan) {
      if (!stack.lastUpdate) return undefined;
      const age = options.now.getTime() - stack.lastUpdate.getTime();
      if (age < options.olderThan.milliseconds) return undefined;
    }
    return [
      ...(pattern ? [`matches --match ${options.match}`] : []),
      ...(options.olderThan && stack.lastUpdate ? [`last update ${relativeTo(options.now, stack.lastUpdate)} (--older-than ${options.olderThan.text})`] : []),
    ].join(", ");
  };

  return stacks.map((stack): StackDecision => {
    const mark = readEphemeralMark(stack.tags);
    if (mark.kind === "not-ephemeral") return { stack, mark, action: "keep", reason: "not a test stack (no coturn:ephemeral tag)" };
    if (mark.kind === "unreadable" && !mark.ttl) return { stack, mark, action: "skip", reason: `${mark.problem}: never destroyed while its marker is unreadable` };
    const flagged = mark.ttl ? byFlags(stack) : undefined;
    const expired = mark.kind === "ephemeral" && mark.expiresAt.getTime() <= options.now.getTime();
    if (!expired && flagged === undefined) {
      return mark.kind === "ephemeral"
        ? { stack, mark, action: "keep", reason: `expires ${relativeTo(options.now, mark.expiresAt)}` }
        : { stack, mark, action: "skip", reason: `${mark.problem}: not destroyed on expiry (name it with --match to destroy it)` };
    }
    if (stack.updateInProgress) return { stack, mark, action: "skip", reason: "an update is running on it; try again when it ends" };
    const reason = expired && mark.kind === "ephemeral" ? `expired ${relativeTo(options.now, mark.expiresAt)}` : (flagged ?? "");
    return { stack, mark, action: "destroy", reason };
  });
}
