import { tickStart } from '../common/tick.js';
import { type Observation, signObservation } from '../common/observation.js';
import { canonicalBytes } from '../common/canonical.js';
import { sha256Hex } from '../tuf/metadata.js';
import type { AgentIdentity } from './identity.js';
import type { ReceiptStore } from './receipt-store.js';

/** The largest checkpoint note a receipt carries: 4096 base64 characters (the schema's limit). */
export const MAX_CHECKPOINT_BYTES = 3072;

/** The tick clock a repository signs into every timestamp (`fairpatch_clock`), as the agent reads it. */
export interface TickClock {
  epochMs: number;
  tickMs: number;
}

/** What the agent learns about a served timestamp document, from the signed bytes alone. */
export interface Served {
  document: Record<string, unknown>;
  tick: number;
  snapshotVersion: number;
  clock: TickClock | undefined;
}

export function readServed(document: Record<string, unknown>): Served {
  const signed = (document.signed ?? {}) as {
    version?: unknown;
    meta?: { 'snapshot.json'?: { version?: unknown } };
    fairpatch_clock?: { epoch_ms?: unknown; tick_ms?: unknown };
  };
  const c = signed.fairpatch_clock;
  const clock =
    typeof c?.epoch_ms === 'number' && typeof c.tick_ms === 'number' && c.tick_ms > 0
      ? { epochMs: c.epoch_ms, tickMs: c.tick_ms }
      : undefined;
  return {
    document,
    tick: Number(signed.version),
    snapshotVersion: Number(signed.meta?.['snapshot.json']?.version),
    clock,
  };
}

/** How far behind this machine's clock a served document is: now minus the start of its tick. */
export function lagOf(served: Served, now: number): number {
  return served.clock ? Math.round(now - tickStart(served.clock, served.tick)) : 0;
}

/**
 * Records, on every poll, what the agent was served, as runs: polls served the same document through
 * the same path extend one run. Each change re-signs the run with the agent's key and keeps it, so
 * what is kept is always the newest signed account of every run.
 */
export class Observer {
  private open: { observation: Observation; document: Record<string, unknown> } | undefined;

  constructor(
    private readonly identity: AgentIdentity,
    private readonly group: string,
    private readonly store: ReceiptStore,
  ) {}

  record(input: {
    served: Served;
    via: string;
    at: number;
    pushed: boolean | undefined;
    /** Paths that failed (5xx, unreachable) before this one answered. */
    pathFailures?: Array<{ via: string; error: string }>;
  }): Observation {
    const digest = sha256Hex(canonicalBytes(input.served.document));
    const at = new Date(input.at).toISOString();
    const failed = (input.pathFailures ?? []).map((f) => ({
      via: f.via.slice(0, 200),
      error: f.error.slice(0, 200),
      at,
    }));
    const current = this.open?.observation;
    if (current && current.document === digest && current.via === input.via) {
      const pathFailures = [...(current.path_failures ?? []), ...failed].slice(-8);
      this.keep(
        {
          ...current,
          last_at: at,
          polls: current.polls + 1,
          ...(pathFailures.length ? { path_failures: pathFailures } : {}),
        },
        this.open!.document,
      );
    } else {
      const observation: Observation = {
        v: 1,
        agent: this.identity.publicKey,
        group: this.group,
        document: digest,
        first_at: at,
        last_at: at,
        polls: 1,
        via: input.via,
        lag_ms: lagOf(input.served, input.at),
        ...(input.pushed === undefined ? {} : { pushed: input.pushed }),
        ...(failed.length ? { path_failures: failed.slice(-8) } : {}),
      };
      this.keep(observation, input.served.document);
    }
    return this.open!.observation;
  }

  /** An artifact of the release the current document carries could not be downloaded. */
  artifactFailed(target: string, error: string, at: number): void {
    if (!this.open) return;
    const failures = [
      ...(this.open.observation.artifact_failures ?? []).filter((f) => f.target !== target),
      { target: target.slice(0, 200), error: error.slice(0, 200), at: new Date(at).toISOString() },
    ].slice(-16);
    this.keep({ ...this.open.observation, artifact_failures: failures }, this.open.document);
  }

  /** What the agent decided about a staged release during the current run (src/agent/rollout-gate.ts). */
  rolloutDecided(decided: NonNullable<Observation['rollout']>): void {
    if (!this.open) return;
    // Exactly the fields a receipt carries: the node and witnesses refuse any other.
    const rollout: NonNullable<Observation['rollout']> = {
      release: decided.release,
      stage: decided.stage,
      percent_bp: decided.percent_bp,
      eligible: decided.eligible,
      ...(decided.salt_checkpoint !== undefined
        ? { salt_checkpoint: decided.salt_checkpoint }
        : {}),
      ...(decided.outcome !== undefined ? { outcome: decided.outcome } : {}),
    };
    const now = this.open.observation.rollout;
    if (now && JSON.stringify(now) === JSON.stringify(rollout)) return;
    this.keep({ ...this.open.observation, rollout }, this.open.document);
  }

  /** The log checkpoint served during the current run (see CheckpointWatch). */
  checkpointSeen(note: string): void {
    const checkpoint = Buffer.from(note, 'utf8').toString('base64');
    if (!this.open || Buffer.byteLength(note) > MAX_CHECKPOINT_BYTES) return;
    if (this.open.observation.checkpoint === checkpoint) return;
    this.keep({ ...this.open.observation, checkpoint }, this.open.document);
  }

  private keep(observation: Observation, document: Record<string, unknown>): void {
    this.open = { observation, document };
    this.store.add({ signed: signObservation(observation, this.identity.seed), document });
  }
}
