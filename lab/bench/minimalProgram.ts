/**
 * The floor of the start-up benchmark: a Pulumi program with one resource and no provider SDK, run by the same
 * harness and mocks as the real program. What the real program takes beyond this is its own cost.
 */
import * as pulumi from "@pulumi/pulumi";

/** The one resource: a custom resource of a made-up type, which the mocks answer like any other. */
class BenchThing extends pulumi.CustomResource {
  constructor(name: string) {
    super("bench:index:Thing", name, { value: 1 });
  }
}

export = async (): Promise<Record<string, unknown>> => {
  const thing = new BenchThing("thing");
  return { id: thing.id };
};
