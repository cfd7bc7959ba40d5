// The Pulumi program: one hardened coturn region, or the global stack that puts regions behind one name, from this
// stack's config (README: "Config reference"). Config is validated before any resource is registered; a local stack
// (`coturn:cloud: local`) is refused here: `npm run local` runs it.
import * as pulumi from "@pulumi/pulumi";
import { loadGlobalStackConfig, loadStackConfig, rawConfigFromEngine } from "./src/config/pulumiConfig";
import { isGlobalStack } from "./src/config/rawStackConfig";
import { globalStack } from "./src/program/globalStack";
import { regionStack } from "./src/program/regionStack";

export = async (): Promise<object> => {
  const raw = rawConfigFromEngine();
  if (isGlobalStack(raw)) return globalStack(loadGlobalStackConfig(raw));
  return regionStack(loadStackConfig(raw), pulumi.getProject());
};
