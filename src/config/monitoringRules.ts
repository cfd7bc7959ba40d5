/**
 * Rules of the metrics keys: scraper sources are valid CIDRs no wider than /16 (a metrics endpoint open to the world
 * tells anyone how loaded and how abused the relay is), and a scraper list needs the password scrapers log in with.
 */
import type { ParsedConfigKeys } from "./schema";
import { ipv4CidrProblem } from "./valueFormats";
import { problemAdder, type ConfigProblem } from "./configProblems";

type Parsed = Partial<ParsedConfigKeys>;

/** Scraper sources wider than this prefix are refused. */
export const MIN_SCRAPER_PREFIX = 16;

/** Shortest basic-auth password for scrapers. */
export const MIN_METRICS_PASSWORD_LENGTH = 24;

/** Problems of `coturn:monitoring` and `coturn:metricsPassword`. */
export function monitoringProblems(c: Parsed): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const scrapers = c.monitoring?.allowedCidrs ?? [];
  for (const [i, cidr] of scrapers.entries()) {
    const problem = ipv4CidrProblem(cidr);
    if (problem) add(`monitoring.allowedCidrs[${i}]`, cidr, problem);
    else if (Number(cidr.split("/")[1]) < MIN_SCRAPER_PREFIX) {
      add(
        `monitoring.allowedCidrs[${i}]`,
        cidr,
        `would open the metrics endpoint to ${cidr.endsWith("/0") ? "the whole internet" : `${(2 ** (32 - Number(cidr.split("/")[1]))).toLocaleString("en-US")} addresses`}. ` +
          'List your Prometheus servers\' addresses (e.g. "203.0.113.9/32"), or leave the list empty and read the metrics over SSH (npm run status)',
      );
    }
  }
  const password = c.metricsPassword;
  if (scrapers.length > 0 && password === undefined) {
    add(
      "metricsPassword",
      undefined,
      "is not set, but coturn:monitoring.allowedCidrs lets scrapers in, and they must log in: " +
        'pulumi config set --secret coturn:metricsPassword "$(openssl rand -base64 32)", and give it to Prometheus (basic_auth password_file)',
    );
  } else if (password !== undefined && scrapers.length === 0) {
    add(
      "metricsPassword",
      undefined,
      "is set, but no scraper may connect (coturn:monitoring.allowedCidrs is empty), so nothing uses it. " +
        "Add your Prometheus server's address to coturn:monitoring.allowedCidrs, or remove it: pulumi config rm coturn:metricsPassword",
    );
  } else if (password !== undefined && (password.length < MIN_METRICS_PASSWORD_LENGTH || /[\s:"\\]/.test(password))) {
    // The value is never shown: only its length.
    add(
      "metricsPassword",
      undefined,
      `(secret, ${password.length} characters) must be at least ${MIN_METRICS_PASSWORD_LENGTH} characters, without spaces, colons, quotes or backslashes (base64 is fine): ` +
        'pulumi config set --secret coturn:metricsPassword "$(openssl rand -base64 32)"',
    );
  }
  return problems;
}
