/**
 * The load generator as a process of its own, started by the bench inside the lab's client namespace:
 * `node --import tsx lab/bench/generatorProcess.ts` with the job in BENCH_GENERATOR_JOB. It opens its channels (UDP
 * sockets, or TCP/TLS connections: sendChannels.ts, streamChannels.ts),
 * prints `ready` and sends (warm-up); WINDOW_START_SIGNAL opens the window, WINDOW_END_SIGNAL closes it, and it prints
 * its `result` and exits. It never outlives the job's `lifetimeMs`.
 */
import { LoadGenerator } from "./loadGenerator";
import { GENERATOR_JOB_VARIABLE, WINDOW_END_SIGNAL, WINDOW_START_SIGNAL, type GeneratorEvent, type GeneratorJob } from "./generatorJob";
import { closeChannels, openRawChannels, openTurnChannels, type SendChannel } from "./sendChannels";
import { openStreamChannels } from "./streamChannels";

function emit(event: GeneratorEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const text = process.env[GENERATOR_JOB_VARIABLE];
  if (!text) throw new Error(`no job: set ${GENERATOR_JOB_VARIABLE} to a JSON GeneratorJob`);
  const job = JSON.parse(text) as GeneratorJob;
  // Bounded whatever the bench does: a generator left behind stops by itself.
  setTimeout(() => {
    emit({ event: "error", message: `lifetime of ${job.lifetimeMs} ms reached before the window closed` });
    process.exit(3);
  }, job.lifetimeMs).unref();

  const setupStarted = Date.now();
  const route = job.route;
  const channels: SendChannel[] =
    route.kind === "raw"
      ? await openRawChannels(route.sockets, job.peer)
      : route.transport === "udp"
        ? await openTurnChannels(route.server, route.credentials, job.peer, job.payloadBytes)
        : await openStreamChannels(route.server, route.transport, route.credentials, job.peer, job.payloadBytes);
  const generator = new LoadGenerator(channels, job);
  process.once(WINDOW_START_SIGNAL, () => generator.openWindow());
  process.once(WINDOW_END_SIGNAL, () => {
    void generator.closeWindow().then((result) => {
      emit({ event: "result", result });
      closeChannels(channels);
      process.exit(0);
    });
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => process.exit(130));
  emit({ event: "ready", channels: channels.length, setupMs: Date.now() - setupStarted });
  generator.start();
}

/** A readable account of a failure: werift's transaction failures carry the server's STUN error in `response`. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const response = (error as Error & { response?: { getAttributeValue(name: string): unknown } }).response;
  const stunError = response?.getAttributeValue("ERROR-CODE");
  return [error.name, error.message, Array.isArray(stunError) ? `STUN error ${stunError.join(" ")}` : ""].filter(Boolean).join(": ");
}

main().catch((error: unknown) => {
  emit({ event: "error", message: describe(error) });
  process.exit(1);
});
