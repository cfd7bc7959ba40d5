/** The unit every VM file renderer produces. */

/** One file written onto the VM by cloud-init. */
export interface VmFile {
  /** Absolute path on the VM. */
  readonly path: string;
  /** Octal mode as written by cloud-init (the bootstrap script tightens group ownership afterwards). */
  readonly mode: string;
  /** Why the file is there, rendered as a comment in user-data. */
  readonly purpose: string;
  /** File content, ending in a newline. */
  readonly content: string;
}
