// The Pulumi program: one hardened coturn region from this stack's config (README: "Config reference").
import * as pulumi from "@pulumi/pulumi";
import { TurnServer } from "./src/components/turnServer";
import { loadStackConfig } from "./src/config/pulumiConfig";

// Validated before any resource is registered; a local stack (`coturn:cloud: local`) is refused here: `npm run local`.
const config = loadStackConfig();
const server = new TurnServer(config.stack, { config, project: pulumi.getProject() });

/** Static public IP of the TURN server. */
export const publicIp = server.publicIp;
/** DNS name clients connect to. */
export const domain = config.domain;
/** This server's own DNS name (the shared one is `domain`). */
export const regionDomain = config.regionDomain;
/** The A records of the server's names: managed in Cloudflare (`managedBy: cloudflare`) or to create by hand. */
export const dnsRecords = server.dnsRecords;
/** The certificate coturn serves (names, expiry, issuer), as the VM reported it after installing it. */
export const tlsCertificate = server.tlsCertificate;
/** Every turn:/turns: URL the server answers. */
export const urls = server.urls;
/** iceServers for browsers, without credentials: apps add the username/credential they mint. */
export const iceServers = server.iceServers;
/** Fingerprints of the secrets the server accepts, as the VM reported them (`npm run mint` and `npm run rotate` check them). */
export const acceptedSecretFingerprints = server.acceptedSecretFingerprints;
/** The cloud's id of the VM. */
export const instanceId = server.instanceId;
/** Official image a new VM boots from (on AWS, a newer image shows up in `pulumi preview` as a VM replacement). */
export const imageName = server.imageName;
