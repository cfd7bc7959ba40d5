/**
 * The public API of coturn-pulumi: what a team with its own Pulumi program imports to add hardened TURN regions to
 * it. The project's own program (index.ts) is built on exactly this entry point.
 *
 * - Components: `TurnServer` (one hardened coturn VM with its static IP, firewall, secrets and certificate) and
 *   `GeoDns` (one name in front of several regions).
 * - Programs: `regionStack` (a region of `serverCount` servers with the outputs apps read) and `globalStack`.
 * - Config: the loader and validator for users who keep this project's `coturn:*` stack keys.
 * - Clouds: the adapter interface and the registry, to deploy on one of ours or bring another.
 * - Credentials: minting and verifying TURN REST credentials (also importable alone, without Pulumi, as
 *   `coturn-pulumi/credentials`).
 *
 * @packageDocumentation
 */
export { TurnServer, type TurnServerArgs } from "./components/turnServer";
export { GeoDns, type GeoDnsArgs, type SharedRecordOutput } from "./components/geoDns";
export type { DnsRecordOutput } from "./components/dnsRecords";
export { regionStack, serverName, type RegionServerOutput, type RegionStackOutputs } from "./program/regionStack";
export { globalStack, type GlobalRegionOutput, type GlobalStackOutputs } from "./program/globalStack";
export { loadGlobalStackConfig, loadStackConfig, localStackRefusal, rawConfigFromEngine } from "./config/pulumiConfig";
export { validateGlobalStackConfig, validateStackConfig } from "./config/validate";
export { isGlobalStack, isLocalStack, type RawStackConfig } from "./config/rawStackConfig";
export { StackConfigError, type ConfigProblem } from "./config/configProblems";
export type { GlobalStackConfig, ServerConfig, StackConfig } from "./config/stackConfig";
export type { DeployCloud, Listener } from "./config/schema";
export { cloudAdapter } from "./clouds/registry";
export type { CloudAdapter, TurnHost, TurnHostArgs } from "./clouds/cloudAdapter";
export type { VmAddresses } from "./plan/addresses";
export type { FirewallPlan } from "./plan/firewall";
export type { IceServerTemplate } from "./plan/endpoints";
export type { RenderedUserData } from "./render/vmFiles";
export type { InstalledCertificate } from "./render/tlsDocument";
export * from "./credentials/index";
