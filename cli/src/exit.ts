/** Exit codes scripts can trust (documented in docs/cli.md). */
export const EXIT = {
  /** done; for `load`: 0 oversold and 0 lost */
  ok: 0,
  /** a runtime failure: a service unreachable, a child process died, a Kubernetes call refused */
  failure: 1,
  /** bad usage: unknown option, invalid value, invalid manifest (the message names the field) */
  usage: 2,
  /** `load` ran but the audit failed: units oversold or accepted orders without a final status */
  verifyFailed: 3,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export type OutputFormat = 'text' | 'json';
