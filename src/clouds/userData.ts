/**
 * How each cloud takes user-data and how much: one row per cloud, read by its adapter (the API field's value), the
 * boot test (the bytes the VM's cloud-init receives) and the artifacts test (every variant fits). No cloud SDK here.
 */
import { gzipSync } from "node:zlib";
import type { DeployCloud } from "../config/schema";

/** One cloud's user-data channel. */
export interface UserDataChannel {
  /**
   * `gzip-base64`: the API field takes base64 and the VM's cloud-init gets the decoded gzip, which it unpacks (EC2;
   * Hetzner, whose API has text only and whose cloud-init datasource base64-decodes what it is given). `text`: the
   * rendered document as is.
   */
  readonly form: "gzip-base64" | "text";
  /** The most the API accepts, in bytes of what `measured` names. */
  readonly limitBytes: number;
  /** What the limit counts: the gzip bytes before base64, the base64 text, or the plain text. */
  readonly measured: "gzip bytes" | "base64 text" | "text";
  /** The provider's own statement of the limit. */
  readonly source: string;
}

/** Every cloud's user-data channel. */
export const USER_DATA_CHANNELS: Readonly<Record<DeployCloud, UserDataChannel>> = {
  aws: {
    form: "gzip-base64",
    limitBytes: 16_384,
    measured: "gzip bytes",
    source: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/user-data.html (16 KB, before base64)",
  },
  gcp: {
    form: "text",
    limitBytes: 262_144,
    measured: "text",
    source: "https://cloud.google.com/compute/docs/metadata/setting-custom-metadata#limitations (256 KB per value)",
  },
  digitalocean: {
    form: "text",
    limitBytes: 65_536,
    measured: "text",
    source: "https://docs.digitalocean.com/products/droplets/how-to/provide-user-data/ (64 KiB)",
  },
};

/** The gzip of `userData`; the output has no timestamp, so the same document always packs to the same bytes. */
function gzip(userData: string): Buffer {
  return gzipSync(Buffer.from(userData, "utf8"), { level: 9 });
}

/** The value of the cloud's user-data API field; throws when it is over the cloud's limit. */
export function encodeUserData(cloud: DeployCloud, userData: string): string {
  const channel = USER_DATA_CHANNELS[cloud];
  const packed = channel.form === "gzip-base64" ? gzip(userData) : undefined;
  const field = packed ? packed.toString("base64") : userData;
  const size = channel.measured === "gzip bytes" ? (packed?.length ?? 0) : Buffer.byteLength(field, "utf8");
  if (size > channel.limitBytes) {
    throw new Error(`user-data is ${size} bytes (${channel.measured}); ${cloud} accepts at most ${channel.limitBytes} (${channel.source})`);
  }
  return field;
}

/** The bytes the VM's cloud-init receives from its datasource: gzip for the gzip clouds, else the text. */
export function userDataOnVm(cloud: DeployCloud, userData: string): Buffer {
  const field = encodeUserData(cloud, userData);
  return USER_DATA_CHANNELS[cloud].form === "gzip-base64" ? Buffer.from(field, "base64") : Buffer.from(field, "utf8");
}
