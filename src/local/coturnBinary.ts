/**
 * Finding the installed coturn: `turnserver` on PATH, or Debian's /usr/bin/turnserver (PATH of a plain `sudo` or a
 * minimal shell may lack /usr/bin), and its version for the status line.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** Where Debian's coturn package puts the server. */
export const DEBIAN_TURNSERVER = "/usr/bin/turnserver";

/** Thrown when coturn is not installed; the message says how to install it. */
export class CoturnMissingError extends Error {
  override name = "CoturnMissingError";
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of the `turnserver` binary: the first on `path`, else `fallback`. Throws `CoturnMissingError` with the
 * install command when there is none.
 */
export function findTurnserver(path: string | undefined = process.env.PATH, fallback: string = DEBIAN_TURNSERVER): string {
  const candidates = [...(path ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "turnserver")), fallback];
  const found = candidates.find(isExecutable);
  if (found === undefined) {
    throw new CoturnMissingError(
      "coturn is not installed: sudo apt-get install -y coturn (Debian/Ubuntu), or run bash scripts/install-deps.sh local, " +
        "which also keeps coturn's system service from starting (Debian's package starts one where systemd runs).",
    );
  }
  return found;
}

/** coturn's version as `turnserver --version` prints it (e.g. "4.6.1"), or "(unknown version)". */
export function coturnVersion(turnserver: string): string {
  const result = spawnSync(turnserver, ["--version"], { encoding: "utf8", timeout: 5000 });
  const version = /\d+\.\d+\.\d+\S*/.exec(`${result.stdout ?? ""}${result.stderr ?? ""}`)?.[0];
  return version ?? "(unknown version)";
}
