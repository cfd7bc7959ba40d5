/**
 * How an operator's machine reads one server's metrics over SSH: the region stack exports one of these per server
 * (output `metricsAccess`, a secret), and `npm run status` connects with it. The key runs one command on the VM
 * (METRICS_READ_COMMAND), which prints the metrics: it can change nothing and open no shell.
 */

/** One server's metrics read path. */
export interface MetricsReadAccess {
  /** Resource name of the server (`servers[].name`). */
  readonly server: string;
  /** Address SSH connects to. */
  readonly address: string;
  /** The user the key belongs to. */
  readonly user: string;
  /** The VM's SSH host key (OpenSSH public key): the connection is refused unless the server proves it holds it. */
  readonly hostPublicKey: string;
  /** Private half of the metrics read key (OpenSSH format; a secret). */
  readonly privateKey: string;
}
