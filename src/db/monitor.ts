import { FairpatchError } from '../errors.js';
import { describeDatabaseError, isDatabaseUnavailable } from './errors.js';

export interface DatabaseStatus {
  reachable: boolean;
  /** Since when it has been unreachable (ms since the epoch), when it is. */
  since?: number;
  /** The last cause, one line (e.g. `connect ECONNREFUSED 127.0.0.1:5432`). */
  error?: string;
}

/**
 * Whether this node's database answers, as the refresh loop last found it. Writes consult it and fail
 * at once while it is away, instead of each waiting for a connect timeout. Transitions are logged
 * once, not every retry.
 */
export class DatabaseMonitor {
  private down: { since: number; error: string } | undefined;
  private lastConnectionLog = 0;

  constructor(
    private readonly now: () => number = Date.now,
    /** `recovered`: the line says the database answers again. */
    private readonly log: (line: string, recovered?: boolean) => void = (line) =>
      console.error(line),
  ) {}

  get status(): DatabaseStatus {
    return this.down
      ? { reachable: false, since: this.down.since, error: this.down.error }
      : { reachable: true };
  }

  succeeded(): void {
    if (!this.down) return;
    this.log(
      `database reachable again after ${Math.round((this.now() - this.down.since) / 1000)}s`,
      true,
    );
    this.down = undefined;
  }

  /** Records a failed round trip; false when the error is not about reachability (a bug, not an outage). */
  failed(error: unknown): boolean {
    if (!isDatabaseUnavailable(error)) return false;
    const text = describeDatabaseError(error);
    if (!this.down) this.log(`database unavailable: ${text}; serving the state held in memory`);
    this.down = { since: this.down?.since ?? this.now(), error: text };
    return true;
  }

  /** A connection dropped outside any query (idle connection terminated): at most one line per 10 s. */
  connectionLost(error: Error): void {
    const now = this.now();
    if (now - this.lastConnectionLog < 10_000) return;
    this.lastConnectionLog = now;
    this.log(`database connection lost: ${describeDatabaseError(error)}`);
  }

  /** Throws DATABASE_UNAVAILABLE (503, retryable) while the database is known to be away. */
  assertReachable(): void {
    if (!this.down) return;
    throw unavailable(this.down.error, this.now() - this.down.since);
  }
}

export function unavailable(cause: string, forMs?: number): FairpatchError {
  const since = forMs === undefined ? '' : ` (for ${Math.round(forMs / 1000)}s)`;
  return new FairpatchError(
    'DATABASE_UNAVAILABLE',
    `the database is unavailable${since}: ${cause}; nothing was written, retry later`,
    { details: { retryAfterSeconds: 2 } },
  );
}
