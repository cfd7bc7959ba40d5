// The Pulumi program: one hardened coturn region, or the global stack that puts regions behind one name, from this
// stack's config (docs/config-reference.md). Config is validated before any resource is registered; a local stack
// (`coturn:cloud: local`) is refused here: `npm run local` runs it. It uses only the public API (src/index.ts) that
// teams with a Pulumi program of their own import as `coturn-pulumi`.
import * as pulumi from "@pulumi/pulumi";
import { globalStack, isGlobalStack, loadGlobalStackConfig, loadStackConfig, rawConfigFromEngine, regionStack } from "./src";

export = async (): Promise<object> => {
  const raw = rawConfigFromEngine();
  if (isGlobalStack(raw)) return globalStack(loadGlobalStackConfig(raw));
  return regionStack(loadStackConfig(raw), pulumi.getProject());
};
