import { FairpatchError } from '../errors.js';

/** One open event stream, as the notifier sees it: a sink it can write to without waiting. */
export interface Subscriber {
  group: string;
  address: string;
  /** Enqueues bytes; never waits for the consumer. */
  write(bytes: Uint8Array): void;
  /** Bytes written but not yet taken by the consumer. */
  queuedBytes(): number;
  close(): void;
}

/** The caps on event streams; their defaults are the node's settings (src/server/config.ts). */
export interface NotifierLimits {
  /** Open streams per node. */
  maxConnections: number;
  /** Open streams per client address. */
  maxPerAddress: number;
  /** A consumer with more unread bytes than this is dropped (it reconnects and resumes). */
  maxQueuedBytes: number;
}

export interface FanoutRecord {
  tick: number;
  /** Connections notified per group. */
  groups: Map<string, number>;
  startedAt: number;
  /** Milliseconds from the first write to the last (the fan-out time). */
  durationMs: number;
  dropped: number;
}

const encoder = new TextEncoder();

/** Formats one SSE message (WHATWG HTML "server-sent events"). */
export function sseMessage(event: string, data: string, id?: string, retryMs?: number): Uint8Array {
  const lines = [`event: ${event}`, ...data.split('\n').map((l) => `data: ${l}`)];
  if (id !== undefined) lines.push(`id: ${id}`);
  if (retryMs !== undefined) lines.push(`retry: ${retryMs}`);
  return encoder.encode(lines.join('\n') + '\n\n');
}

/** Streams written per turn of the event loop in a fan-out. */
const FANOUT_CHUNK = 500;

/**
 * Push at the release tick. The event for a tick is encoded once and written to every open
 * stream, in an order shuffled per fan-out so no group is systematically first, and in chunks of
 * FANOUT_CHUNK with a turn of the event loop before each: a node holding 10,000 streams needs
 * about 100 ms to write them all, and the polls arriving at the same tick boundary (the primary
 * path: a push is only a hint to poll now) are answered between chunks instead of after the last.
 * A write never waits: a consumer that stops reading is dropped once `maxQueuedBytes` wait in its
 * socket, and the others are not delayed. Events carry no authority: agents verify through TUF.
 */
export class Notifier {
  private readonly subscribers = new Set<Subscriber>();
  private readonly perAddress = new Map<string, number>();
  readonly fanouts: FanoutRecord[] = [];
  /** Activation fan-outs under way, by tick: a second call for the tick waits for the first. */
  private readonly activating = new Map<number, Promise<FanoutRecord>>();
  /** Streams closed for not reading, and streams refused for the caps, since start. */
  dropped = 0;
  refused = 0;

  constructor(
    private readonly now: () => number,
    private readonly limits: NotifierLimits,
    /** Told of every activation fan-out (metrics). */
    private readonly onFanout: (record: FanoutRecord) => void = () => {},
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** Open streams per group (accounted like polls). */
  connections(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.subscribers) out.set(s.group, (out.get(s.group) ?? 0) + 1);
    return out;
  }

  add(subscriber: Subscriber): () => void {
    const count = this.perAddress.get(subscriber.address) ?? 0;
    const full = this.subscribers.size >= this.limits.maxConnections;
    if (full || count >= this.limits.maxPerAddress) {
      this.refused++;
      throw new FairpatchError(
        'RATE_LIMITED',
        full
          ? 'this node holds its maximum of event streams; poll instead'
          : 'too many event streams from this address',
        { details: { retryAfterSeconds: 5 } },
      );
    }
    this.perAddress.set(subscriber.address, count + 1);
    this.subscribers.add(subscriber);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.subscribers.delete(subscriber);
      const left = (this.perAddress.get(subscriber.address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(subscriber.address);
      else this.perAddress.set(subscriber.address, left);
    };
  }

  /**
   * Writes one message to every stream open when it is called (and still open when its turn
   * comes), a chunk per turn of the event loop; resolves with who got it.
   */
  async broadcast(bytes: Uint8Array): Promise<{
    groups: Map<string, number>;
    durationMs: number;
    dropped: number;
    startedAt: number;
  }> {
    const order = shuffle([...this.subscribers]);
    const groups = new Map<string, number>();
    let dropped = 0;
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    // Polls read in this turn go first (a timer calls this at the tick boundary), and between chunks.
    await nextTurn();
    const startedAt = this.now();
    const t0 = performance.now();
    for (let i = 0; i < order.length; i += FANOUT_CHUNK) {
      if (i > 0) await nextTurn();
      for (const s of order.slice(i, i + FANOUT_CHUNK)) {
        if (!this.subscribers.has(s)) continue;
        if (s.queuedBytes() > this.limits.maxQueuedBytes) {
          dropped++;
          s.close();
          continue;
        }
        s.write(bytes);
        groups.set(s.group, (groups.get(s.group) ?? 0) + 1);
      }
    }
    this.dropped += dropped;
    return { groups, durationMs: performance.now() - t0, dropped, startedAt };
  }

  /** The activation event for tick k: the same bytes for every stream. */
  activation(tick: number, snapshotVersion: number): Promise<FanoutRecord> {
    // One event per tick, whoever calls: a timer that fires early and then on time must not tell twice.
    const earlier = this.fanouts.find((f) => f.tick === tick);
    if (earlier) return Promise.resolve(earlier);
    const running = this.activating.get(tick);
    if (running) return running;
    const message = sseMessage(
      'activation',
      JSON.stringify({ tick, snapshot_version: snapshotVersion }),
      String(tick),
    );
    const done = this.broadcast(message).then((result) => {
      const record = { tick, ...result };
      this.fanouts.push(record);
      if (this.fanouts.length > 1000) this.fanouts.shift();
      this.activating.delete(tick);
      this.onFanout(record);
      return record;
    });
    this.activating.set(tick, done);
    return done;
  }

  /**
   * A real event, not an SSE comment: clients (and proxies) that time out on silence count only
   * events, and a comment never reaches an EventSource listener.
   */
  heartbeat(tick: number): void {
    void this.broadcast(sseMessage('heartbeat', JSON.stringify({ tick })));
  }

  closeAll(): void {
    // A copy: closing a subscriber removes it from the set being iterated.
    // oxlint-disable-next-line unicorn/no-useless-spread
    for (const s of [...this.subscribers]) s.close();
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
