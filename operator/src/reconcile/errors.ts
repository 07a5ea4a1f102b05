/** Errors that steer the queue: terminal (do not retry: the spec must change) and retryable-after-status. */
export class TerminalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TerminalError';
  }
}

/** A dependency (Redis, Kafka, a Secret) failed; the status already says so; retry with backoff. */
export class DependencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DependencyError';
  }
}

export interface Result {
  /** reconcile again after this many ms (waiting, schedule, status refresh) */
  requeueAfterMs?: number | undefined;
}
