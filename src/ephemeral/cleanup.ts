/**
 * Destroys the stacks a selection chose, one after the other: each stack's tags are read again just before, so a stack
 * marked as lasting since the listing is left alone; one failure is recorded and the next stack goes on.
 */
import { relativeTo, decide, type SelectionOptions, type StackDecision } from "./selection";
import { pulumiErrorText, type StackBackend } from "./pulumiBackend";

/** What happened to one selected stack. */
export interface CleanupOutcome {
  /** The stack. */
  readonly stack: string;
  /** `destroyed` (resources and stack gone), `failed`, or `skipped` (its tags no longer allowed it). */
  readonly result: "destroyed" | "failed" | "skipped";
  /** Why it was destroyed, what failed, or why it was skipped. */
  readonly detail: string;
}

/** The plan as table rows: stack, time to live, expiry, last update, resources, action, why. */
export function planRows(decisions: readonly StackDecision[], now: Date): string[][] {
  return decisions.map(({ stack, mark, action, reason }) => [
    stack.name,
    mark.kind === "not-ephemeral" ? "-" : (mark.ttl?.text ?? "?"),
    mark.kind === "ephemeral" ? `${mark.expiresAt.toISOString().slice(0, 16)}Z` : "-",
    stack.lastUpdate ? relativeTo(now, stack.lastUpdate) : "never",
    stack.resourceCount === undefined ? "?" : String(stack.resourceCount),
    action,
    reason,
  ]);
}

/** Header of `planRows`. */
export const PLAN_HEADER = ["stack", "ttl", "expires (UTC)", "last update", "resources", "action", "why"] as const;

/** Header of `outcomeRows`. */
export const OUTCOME_HEADER = ["stack", "result", "detail"] as const;

/** The outcomes as table rows: stack, result, detail. */
export function outcomeRows(outcomes: readonly CleanupOutcome[]): string[][] {
  return outcomes.map((o) => [o.stack, o.result, o.detail]);
}

/**
 * Destroys and removes every stack whose decision is `destroy`, in order. `options` are the ones the decisions were
 * made with (`now` is read again for each stack).
 */
export async function destroySelected(
  backend: StackBackend,
  decisions: readonly StackDecision[],
  options: Omit<SelectionOptions, "now"> & { now: () => Date },
  log: (line: string) => void,
): Promise<CleanupOutcome[]> {
  const chosen = decisions.filter((d) => d.action === "destroy");
  const outcomes: CleanupOutcome[] = [];
  for (const [index, decision] of chosen.entries()) {
    const name = decision.stack.name;
    log(`[${index + 1}/${chosen.length}] ${name}: checking its tags again …`);
    let again: StackDecision;
    try {
      const tags = await backend.tagsOf(name);
      [again] = decide([{ ...decision.stack, tags }], { ...options, now: options.now() });
    } catch (error) {
      outcomes.push({ stack: name, result: "failed", detail: `reading its tags: ${pulumiErrorText(error)}` });
      continue;
    }
    if (again.action !== "destroy") {
      outcomes.push({ stack: name, result: "skipped", detail: `its tags changed since the listing: ${again.reason}` });
      continue;
    }
    log(`[${index + 1}/${chosen.length}] ${name}: destroying (${again.reason}); this takes minutes …`);
    try {
      await backend.destroyAndRemove(name, (line) => log(`    ${name} | ${line}`));
      outcomes.push({ stack: name, result: "destroyed", detail: again.reason });
      log(`[${index + 1}/${chosen.length}] ${name}: destroyed and removed`);
    } catch (error) {
      const detail = pulumiErrorText(error);
      outcomes.push({ stack: name, result: "failed", detail });
      log(`[${index + 1}/${chosen.length}] ${name}: FAILED: ${detail}`);
    }
  }
  return outcomes;
}
