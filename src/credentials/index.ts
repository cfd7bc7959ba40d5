/**
 * The credential library for apps: mint and verify short-lived TURN REST credentials (the `username`/`credential`
 * pair coturn checks against the shared secret) and build `iceServers` with them. No Pulumi import: a backend
 * imports it alone as `coturn-pulumi/credentials`.
 */
export {
  CredentialError,
  FINGERPRINT_LENGTH,
  MAX_USERNAME_BYTES,
  iceServersWithCredential,
  mintIceServers,
  mintTurnCredential,
  secretFingerprint,
  ttlProblem,
  turnPassword,
  userIdProblem,
  verifyTurnCredential,
  type IceServer,
  type IceServerUrls,
  type IceServersRequest,
  type MintRequest,
  type MintedIceServers,
  type TurnCredential,
} from "./turnRest";
export { MAX_CREDENTIAL_TTL_SECONDS, MIN_CREDENTIAL_TTL_SECONDS } from "../config/credentialLifetime";
