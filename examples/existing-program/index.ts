/**
 * A team's own Pulumi program that adds one hardened TURN region next to resources of its own, by installing
 * coturn-pulumi from its packed tarball (`npm pack` in the project; it is not on the npm registry yet) and importing
 * it by package name. The region reads this stack's `coturn:*` keys (the same keys as the project's own stacks:
 * docs/config-reference.md), validated before anything is created.
 *
 *   npm install <path>/coturn-pulumi-0.1.0.tgz @pulumi/pulumi @pulumi/aws @pulumi/cloudflare @pulumi/command @pulumi/tls
 *   pulumi config set coturn:cloud aws && pulumi config set coturn:region eu-central-1 && ...   # as in the quickstart
 *   pulumi up
 *
 * test/publicApi.test.ts packs the project, installs the tarball beside a copy of this program and runs it under the
 * same mocks as the project's own program.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, TurnServer } from "coturn-pulumi";

// The team's own resource: the topic its alerting already publishes to.
const alerts = new aws.sns.Topic("realtime-alerts", { tags: { team: "realtime" } });

// One TURN server from this stack's coturn:* config; invalid config stops here, before any resource.
const turn = new TurnServer("turn-eu", { config: loadStackConfig(), project: pulumi.getProject() });

/** The team's alert topic. */
export const alertTopicArn = alerts.arn;
/** The TURN server's static IP (the DNS record points here). */
export const turnPublicIp = turn.publicIp;
/** `iceServers` for browsers, without credentials: the app's backend mints them per user. */
export const iceServers = turn.iceServers;
/** Fingerprints of the secrets the server accepts, as it reported them (never the secrets). */
export const acceptedSecretFingerprints = turn.acceptedSecretFingerprints;
