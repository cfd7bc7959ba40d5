/**
 * Runs the real Pulumi program (index.ts) under Pulumi's mocks in this process and prints, as one JSON line, every
 * resource it registered (type, name, inputs, options), every provider function it invoked, its stack outputs, and
 * any error. Config comes from the HARNESS_CONFIG environment variable: { stack, values, secretKeys, stackReferences }.
 * `stackReferences` maps a stack name to the outputs a StackReference reads; a name not in it is a stack the backend
 * does not have, answered with the engine's error. HARNESS_PROGRAM names another program module, HARNESS_PROJECT
 * another Pulumi project name (default `coturn`, this project's own).
 * Each scenario runs in its own process because mock state is process-global.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { MOCK_CALLS, mockId, mockOutputs, type ProgramRun, type RecordedOptions } from "./mockCloud";

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.HARNESS_CONFIG ?? "{}") as {
    stack: string;
    values: Record<string, string>;
    secretKeys: string[];
    stackReferences?: Record<string, Record<string, unknown>>;
  };
  const references = spec.stackReferences ?? {};
  const run: ProgramRun = { resources: [], invokes: [], outputs: {} };
  const options = new Map<string, RecordedOptions>();
  const unhandled: unknown[] = [];
  process.on("unhandledRejection", (reason) => unhandled.push(reason));

  // Resource options (protect, deleteBeforeReplace, dependsOn) do not reach `newResource`; they are read from the
  // registration request the mock monitor receives.
  type RegisterRequest = {
    getType(): string;
    getName(): string;
    getProtect(): boolean;
    getDeletebeforereplace(): boolean;
    getDependenciesList(): string[];
    getReplacementTrigger(): { toJavaScript(): unknown } | undefined;
    getAdditionalsecretoutputsList(): string[];
    getProvider(): string;
  };
  const monitor = MockMonitor.prototype as unknown as { registerResource(req: RegisterRequest, cb: unknown): unknown };
  const register = monitor.registerResource;
  monitor.registerResource = function (this: unknown, req: RegisterRequest, cb: unknown) {
    options.set(`${req.getType()}::${req.getName()}`, {
      protect: req.getProtect(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      dependsOn: req.getDependenciesList(),
      replacementTrigger: req.getReplacementTrigger()?.toJavaScript(),
      additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
      provider: req.getProvider(),
    });
    return register.call(this, req, cb);
  };

  pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (args.type === "pulumi:pulumi:StackReference") {
          const name = String(args.inputs.name);
          run.stackReferences = [...(run.stackReferences ?? []), name];
          if (!Object.hasOwn(references, name)) throw new Error(`unknown stack "${name}"`);
          return { id: name, state: { name, outputs: references[name], secretOutputNames: [] } };
        }
        run.resources.push({
          type: args.type,
          name: args.name,
          inputs: args.inputs as Record<string, unknown>,
          options: options.get(`${args.type}::${args.name}`) ?? { protect: false, deleteBeforeReplace: false, dependsOn: [], additionalSecretOutputs: [] },
        });
        return { id: mockId(args.type, args.name), state: { ...args.inputs, ...mockOutputs(args.type, args.name, args.inputs) } };
      },
      call(args) {
        run.invokes.push({ token: args.token, inputs: args.inputs as Record<string, unknown> });
        return MOCK_CALLS[args.token] ?? {};
      },
    },
    process.env.HARNESS_PROJECT ?? "coturn",
    spec.stack,
    false,
  );
  pulumi.runtime.setAllConfig(spec.values, spec.secretKeys);
  // Created first: it also keeps the event loop alive while the program's promises settle.
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`program did not settle in 20 s; unhandled: ${unhandled.map(String).join("; ")}`)), 20_000),
  );
  try {
    // index.ts exports one async function (`export =`), as the Pulumi runtime calls it; its result is the outputs.
    // A program written top to bottom exports its outputs instead, as the runtime also accepts. HARNESS_PROGRAM
    // names another program module (the start-up benchmark's one-resource floor, a user's program of its own).
    const programPath = process.env.HARNESS_PROGRAM ?? "../../index";
    type ProgramModule = Record<string, unknown> & { default?: () => Promise<Record<string, unknown>> };
    const module = (await Promise.race([import(programPath), timeout])) as ProgramModule;
    const { default: main, ...exported } = module;
    const program = typeof main === "function" ? await Promise.race([main(), timeout]) : exported;
    const settle = (value: unknown): Promise<unknown> =>
      new Promise((resolve) => (pulumi.output(value) as unknown as pulumi.Output<unknown>).apply((v) => resolve(v)));
    for (const [name, value] of Object.entries(program)) {
      run.outputs[name] = await Promise.race([settle(value), timeout]);
      if (await pulumi.isSecret(pulumi.output(value))) (run.secretOutputs ??= []).push(name);
    }
    // Let registrations started by the last outputs reach the mock.
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (unhandled.length > 0) run.error = `unhandled rejection: ${unhandled.map(String).join("; ")}`;
  } catch (error) {
    const kind = pulumi.RunError.isInstance(error) ? "RunError" : error instanceof Error ? error.name : "thrown";
    run.error = `${kind}: ${error instanceof Error ? error.message : String(error)}`;
  }
  // Exit once the whole run is written: a large run would be cut off in the pipe by an immediate exit.
  process.stdout.write(`${JSON.stringify(run)}\n`, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stdout.write(`${JSON.stringify({ resources: [], invokes: [], outputs: {}, error: String(error) })}\n`);
  process.exit(1);
});
