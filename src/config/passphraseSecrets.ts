/**
 * Pulumi's passphrase secrets provider, so `npm run render --reveal-secrets` can read `secure:` stack config without
 * the Pulumi CLI: AES-256-GCM with a key derived by PBKDF2-SHA256 (1,000,000 rounds) from the passphrase and the
 * stack file's `encryptionsalt` (`v1:<salt>:<"pulumi" encrypted>`); each value is `v1:<nonce>:<ciphertext+tag>`.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from "node:crypto";

const ITERATIONS = 1_000_000;
const TAG_BYTES = 16;

/** Decrypts and encrypts the `secure:` values of one stack file. */
export interface PassphraseCrypter {
  /** Decrypts one `v1:nonce:ciphertext` value. */
  decrypt(value: string): string;
  /** Encrypts a value the way `pulumi config set --secret` does. */
  encrypt(plaintext: string): string;
}

function crypterFromKey(key: Buffer): PassphraseCrypter {
  return {
    decrypt(value) {
      const parts = value.split(":");
      if (parts.length !== 3 || parts[0] !== "v1") throw new Error("not a v1 passphrase-encrypted value");
      const nonce = Buffer.from(parts[1], "base64");
      const sealed = Buffer.from(parts[2], "base64");
      const decipher = createDecipheriv("aes-256-gcm", key, nonce);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    },
    encrypt(plaintext) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, nonce);
      const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `v1:${nonce.toString("base64")}:${sealed.toString("base64")}`;
    },
  };
}

/** Opens a stack file's secrets with its passphrase; throws "incorrect passphrase" like the CLI when it does not fit. */
export function openPassphraseSecrets(passphrase: string, encryptionSalt: string): PassphraseCrypter {
  const parts = encryptionSalt.split(":");
  if (parts.length !== 5 || parts[0] !== "v1") throw new Error("malformed encryptionsalt (expected v1:<salt>:v1:<nonce>:<data>)");
  const key = pbkdf2Sync(passphrase, Buffer.from(parts[1], "base64"), ITERATIONS, 32, "sha256");
  const crypter = crypterFromKey(key);
  let check: string;
  try {
    check = crypter.decrypt(parts.slice(2).join(":"));
  } catch {
    throw new Error("incorrect passphrase");
  }
  if (check !== "pulumi") throw new Error("incorrect passphrase");
  return crypter;
}

/** Creates a new `encryptionsalt` for a passphrase, as `pulumi stack init` does (used by tests and examples). */
export function newEncryptionSalt(passphrase: string): { encryptionSalt: string; crypter: PassphraseCrypter } {
  const salt = randomBytes(8);
  const crypter = crypterFromKey(pbkdf2Sync(passphrase, salt, ITERATIONS, 32, "sha256"));
  return { encryptionSalt: `v1:${salt.toString("base64")}:${crypter.encrypt("pulumi")}`, crypter };
}
