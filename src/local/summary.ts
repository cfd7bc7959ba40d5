/**
 * What `npm run local` tells its user once coturn serves: one line saying what listens where, and how an app and
 * Chromium use it.
 */
import { LISTENER_PORTS } from "../config/schema";
import type { LocalStackConfig } from "../config/stackConfig";
import type { TurnCredential } from "../credentials/turnRest";
import type { LocalTarget } from "./localTarget";
import { chromiumSpkiFlag, type SelfSignedCertificate } from "./selfSigned";

/**
 * One line: coturn's version and pid, the address, each listener with its URL scheme, the relay range, the log
 * file and how to stop it. E.g. `coturn 4.6.1 (pid 1234) on 127.0.0.1: 3478/udp+tcp turn:, 5349/tcp turns:
 * (self-signed), 5349/udp DTLS, relay 49152-49407/udp; log /tmp/coturn-local-x/turnserver.log; Ctrl-C stops it`.
 */
export function listeningLine(
  config: Pick<LocalStackConfig, "listeners" | "relayPorts">,
  target: Pick<LocalTarget, "version" | "pid" | "listenIp" | "logFile">,
): string {
  const on = (l: "udp" | "tcp" | "tls" | "dtls"): boolean => config.listeners.has(l);
  const plain = (["udp", "tcp"] as const).filter(on);
  const parts = [
    ...(plain.length > 0 ? [`${LISTENER_PORTS.plain}/${plain.join("+")} turn:`] : []),
    ...(on("tls") ? [`${LISTENER_PORTS.tls}/tcp turns: (self-signed)`] : []),
    ...(on("dtls") ? [`${LISTENER_PORTS.tls}/udp DTLS`] : []),
    `relay ${config.relayPorts.min}-${config.relayPorts.max}/udp`,
  ];
  return `coturn ${target.version} (pid ${target.pid}) on ${target.listenIp}: ${parts.join(", ")}; log ${target.logFile}; Ctrl-C stops it`;
}

/** The line naming the CA file for `turns:`: the self-signed certificate, which clients other than browsers trust. */
export function caFileLine(certificateFile: string): string {
  return `CA file for non-browser clients: ${certificateFile}`;
}

/**
 * How to use the printed iceServers: the relay-only policy, the credential's lifetime, and for `turns:` Chromium's
 * trust flag and, on a line of its own, the CA file that other clients (turnutils_uclient, aiortc, the probe) take.
 */
export function usageLines(
  config: Pick<LocalStackConfig, "listeners">,
  credential: TurnCredential,
  user: string,
  certificate: Pick<SelfSignedCertificate, "certificate" | "spkiSha256">,
): string[] {
  return [
    `Credentials for user "${user}" expire at ${credential.expiresAt.toISOString()}.`,
    `Force the relay in your app (browsers on one machine otherwise connect directly): ` +
      `new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" })`,
    ...(config.listeners.has("tls")
      ? [
          `turns: has a self-signed certificate; start Chromium with this flag to trust its key: ${chromiumSpkiFlag(certificate.spkiSha256)}`,
          caFileLine(certificate.certificate),
        ]
      : []),
  ];
}
