import { randomBytes } from 'node:crypto';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { tickStart } from '../../src/common/tick.js';
import { type SignedObservation, signObservation } from '../../src/common/observation.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { sha256Hex } from '../../src/tuf/metadata.js';
import type { ManualClock } from './clock.js';
import type { SignedEnrollment } from '../../src/common/enrollment.js';
import type { GroupOwners } from './owners.js';

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** A simulated agent: its own key, signing one observation per poll as the real agent's observer does. */
export class SimAgent {
  readonly seed = randomBytes(32);
  readonly publicKey = ed25519PublicKey(this.seed).toString('hex');
  readonly receipts: SignedObservation[] = [];
  readonly documents: Record<string, Record<string, unknown>> = {};
  /** The owner's certificate, sent with the receipts (src/common/enrollment.ts), if vouched for. */
  enrollment: SignedEnrollment | undefined;

  constructor(
    readonly group: string,
    private readonly clock: ManualClock,
  ) {}

  /** Vouched for by the group's owner from now on (its receipts then carry the certificate). */
  enrolledBy(owners: GroupOwners): this {
    this.enrollment = owners.certify(this.group, this.publicKey);
    return this;
  }

  async poll(
    app: Fetcher,
    path = `/g/${this.group}/metadata/timestamp.json`,
    extra: { pushed?: boolean } = {},
  ): Promise<{ tick: number; snapshot: number }> {
    let response = await app.request(path);
    let via = `/g/${this.group}`;
    const failures: Array<{ via: string; error: string; at: string }> = [];
    if (response.status !== 200 && path.startsWith('/g/')) {
      // As the real agent does: a group path that does not answer is tried around, and said.
      failures.push({
        via,
        error: `server error (HTTP ${response.status})`,
        at: new Date(this.clock.now()).toISOString(),
      });
      response = await app.request('/metadata/timestamp.json');
      via = '/';
    }
    if (response.status !== 200) throw new Error(`poll ${this.group}: ${response.status}`);
    const document = (await response.json()) as Record<string, unknown> & {
      signed: {
        version: number;
        meta: { 'snapshot.json': { version: number } };
        fairpatch_clock?: { epoch_ms: number; tick_ms: number };
      };
    };
    const digest = sha256Hex(canonicalBytes(document));
    this.documents[digest] = document;
    const now = this.clock.now();
    const at = new Date(now).toISOString();
    const c = document.signed.fairpatch_clock;
    const lag = c
      ? now - tickStart({ epochMs: c.epoch_ms, tickMs: c.tick_ms }, document.signed.version)
      : 0;
    this.receipts.push(
      signObservation(
        {
          v: 1,
          agent: this.publicKey,
          group: this.group,
          document: digest,
          first_at: at,
          last_at: at,
          polls: 1,
          via,
          lag_ms: lag,
          ...extra,
          ...(failures.length ? { path_failures: failures } : {}),
        },
        this.seed,
      ),
    );
    return {
      tick: document.signed.version,
      snapshot: document.signed.meta['snapshot.json'].version,
    };
  }

  /**
   * Downloads an artifact through `path`; when it fails, the last observation is signed again with the
   * failure, as the real agent's observer does.
   */
  async fetchArtifact(app: Fetcher, path: string, target: string): Promise<boolean> {
    const response = await app.request(path);
    if (response.status === 200) return true;
    const last = this.receipts.at(-1);
    if (last) {
      const failure = {
        target,
        error: `server error (HTTP ${response.status})`,
        at: new Date(this.clock.now()).toISOString(),
      };
      this.receipts.push(
        signObservation(
          {
            ...last.observation,
            artifact_failures: [...(last.observation.artifact_failures ?? []), failure],
          },
          this.seed,
        ),
      );
    }
    return false;
  }

  batch(): {
    documents: Record<string, Record<string, unknown>>;
    receipts: SignedObservation[];
    enrollments?: SignedEnrollment[];
  } {
    return {
      documents: this.documents,
      receipts: this.receipts,
      ...(this.enrollment ? { enrollments: [this.enrollment] } : {}),
    };
  }

  async submit(app: Fetcher): Promise<void> {
    for (let i = 0; i < this.receipts.length; i += 500) {
      const receipts = this.receipts.slice(i, i + 500);
      const documents = Object.fromEntries(
        receipts.map((r) => [r.observation.document, this.documents[r.observation.document]!]),
      );
      const response = await app.request('/api/v1/receipts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          documents,
          receipts,
          ...(this.enrollment ? { enrollments: [this.enrollment] } : {}),
        }),
      });
      if (response.status !== 201)
        throw new Error(`receipts ${this.group}: ${response.status} ${await response.text()}`);
    }
  }
}

/**
 * One receipt of `document` polled once just now through `via` (default `/g/<group>`), signed by a
 * fresh agent key: the key's public half (`agent`) marks the receipt wherever it lands. With the
 * upload body that carries it (the document included).
 */
export function freshAgentReceipt(
  group: string,
  document: unknown,
  via = `/g/${group}`,
): { agent: string; receipt: SignedObservation; body: string } {
  const seed = randomBytes(32);
  const agent = ed25519PublicKey(seed).toString('hex');
  const digest = sha256Hex(canonicalBytes(document));
  const at = new Date().toISOString();
  const receipt = signObservation(
    {
      v: 1,
      agent,
      group,
      document: digest,
      first_at: at,
      last_at: at,
      polls: 1,
      via,
      lag_ms: 0,
    },
    seed,
  );
  return {
    agent,
    receipt,
    body: JSON.stringify({ documents: { [digest]: document }, receipts: [receipt] }),
  };
}

/** `base` over real HTTP, as the simulated agents poll and submit through it. */
export function overHttp(base: string): Fetcher {
  return { request: (path, init) => fetch(`${base}${path}`, init) };
}

/** `perGroup` simulated agents in each of `groups`, in group order. */
export function simAgents(
  groups: string[],
  perGroup: number,
  clock: ManualClock,
  owners?: GroupOwners,
): SimAgent[] {
  return groups.flatMap((group) =>
    Array.from({ length: perGroup }, () => {
      const agent = new SimAgent(group, clock);
      return owners ? agent.enrolledBy(owners) : agent;
    }),
  );
}

/** A few agents per group, each polling through `app` and keeping its own signed receipts. */
export class ReceiptCollector {
  readonly agents = new Map<string, SimAgent[]>();

  constructor(
    private readonly clock: ManualClock,
    private readonly perGroup = 3,
    /** The groups' owners: the collector's agents are vouched for when given. */
    private readonly owners?: GroupOwners,
  ) {}

  agentsOf(group: string): SimAgent[] {
    let list = this.agents.get(group);
    if (!list) {
      list = simAgents([group], this.perGroup, this.clock, this.owners);
      this.agents.set(group, list);
    }
    return list;
  }

  async poll(app: Fetcher, group: string): Promise<{ tick: number; snapshot: number }> {
    let last = { tick: 0, snapshot: 0 };
    for (const agent of this.agentsOf(group)) last = await agent.poll(app);
    return last;
  }

  async submit(app: Fetcher): Promise<void> {
    for (const list of this.agents.values()) for (const agent of list) await agent.submit(app);
  }
}
