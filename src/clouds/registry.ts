/**
 * The adapter for each cloud. Each is loaded only when its cloud is deployed: a provider SDK is large, and a stack
 * uses one.
 */
import type { DeployCloud } from "../config/schema";
import type { CloudAdapter } from "./cloudAdapter";

/** The adapter that deploys to `cloud`. */
export function cloudAdapter(cloud: DeployCloud): CloudAdapter {
  switch (cloud) {
    case "aws":
      return (require("./aws") as typeof import("./aws")).awsAdapter;
    case "gcp":
      return (require("./gcp") as typeof import("./gcp")).gcpAdapter;
    case "digitalocean":
      return (require("./digitalocean") as typeof import("./digitalocean")).digitalOceanAdapter;
  }
}
