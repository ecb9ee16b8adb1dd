import { OVERFLOW_GROUP } from '../serving/accounting.js';
import { type Counter, type Histogram, Registry, type Sample } from './registry.js';

/** What is read at scrape time, from the components of one node. */
export interface MetricSources {
  /** Current tick and state age of the repository. */
  tick(): number;
  stateAgeMs(): number;
  /** Leaves in the transparency log (one indexed read). */
  logSize(): Promise<number>;
  /** Open event streams, streams dropped for not reading, streams refused for the caps. */
  streams(): { open: number; dropped: number; refused: number };
  /** Each rate limit by name: refusals so far and buckets held now. */
  rateLimits(): Iterable<[string, { refusals: number; buckets: number }]>;
}

const SECONDS_FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const SECONDS_SLOW = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The metrics of one node, served at `GET /metrics`. The hot paths only bump a number: a poll is one
 * Map update; everything else is read when Prometheus scrapes.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;
  private readonly polls: Counter;
  private readonly tickRender: Histogram;
  private readonly fanout: Histogram;
  private readonly logAppend: Histogram;
  private readonly logAppended: Counter;
  private readonly receiptBatches: Counter;
  private readonly receiptsAccepted: Counter;

  /**
   * `maxGroups`: group names come from clients, so past this many distinct groups polls count under
   * `_overflow` (the node's metricsMaxGroups setting, passed in).
   */
  constructor(options: { maxGroups: number }) {
    const r = this.registry;
    this.polls = r.counter(
      'fairpatch_polls_total',
      `timestamp.json polls served, per group (past ${options.maxGroups} groups, under ${OVERFLOW_GROUP})`,
      'group',
      options.maxGroups,
    );
    this.tickRender = r.histogram(
      'fairpatch_tick_render_seconds',
      "time to render and sign one tick's timestamp (and its snapshot when new)",
      SECONDS_FAST,
    );
    this.fanout = r.histogram(
      'fairpatch_fanout_seconds',
      'time to write one activation to every open event stream',
      SECONDS_SLOW,
    );
    this.logAppend = r.histogram(
      'fairpatch_log_append_seconds',
      'time to append one batch to the transparency log, conflicts with other nodes retried',
      SECONDS_SLOW,
    );
    this.logAppended = r.counter(
      'fairpatch_log_appended_entries_total',
      'entries handed to the transparency log (an entry already logged lands once)',
    );
    this.receiptBatches = r.counter(
      'fairpatch_receipt_batches_total',
      'receipt batches received, by outcome',
      'outcome',
    );
    this.receiptsAccepted = r.counter(
      'fairpatch_receipts_accepted_total',
      'receipts in accepted batches',
    );
    const from = <T>(read: (s: MetricSources) => T, fallback: T): T =>
      this.sources ? read(this.sources) : fallback;
    r.collect('fairpatch_tick', 'the tick this node serves now', 'gauge', () => [
      { value: from((s) => s.tick(), 0) },
    ]);
    r.collect(
      'fairpatch_state_age_seconds',
      'time since the committed state was last read from the database',
      'gauge',
      () => [{ value: from((s) => s.stateAgeMs(), 0) / 1000 }],
    );
    r.collect('fairpatch_log_size', 'leaves in the transparency log', 'gauge', async () => [
      { value: this.sources ? await this.sources.logSize() : 0 },
    ]);
    r.collect('fairpatch_event_streams', 'open event streams', 'gauge', () => [
      { value: from((s) => s.streams().open, 0) },
    ]);
    r.collect(
      'fairpatch_event_streams_dropped_total',
      'event streams closed because their consumer stopped reading',
      'counter',
      () => [{ value: from((s) => s.streams().dropped, 0) }],
    );
    r.collect(
      'fairpatch_rate_limited_total',
      'requests refused 429 by a rate limit, and event streams refused for the stream caps',
      'counter',
      () => {
        const out: Sample[] = [...from((s) => s.rateLimits(), [])].map(([limit, v]) => ({
          labels: { limit },
          value: v.refusals,
        }));
        out.push({
          labels: { limit: 'event_streams' },
          value: from((s) => s.streams().refused, 0),
        });
        return out;
      },
    );
    r.collect(
      'fairpatch_rate_limit_buckets',
      'token buckets held per rate limit (bounded; idle ones are forgotten)',
      'gauge',
      () =>
        [...from((s) => s.rateLimits(), [])].map(([limit, v]) => ({
          labels: { limit },
          value: v.buckets,
        })),
    );
    // The name Prometheus client libraries use for the same number (process metrics).
    r.collect('process_resident_memory_bytes', 'resident set size of this process', 'gauge', () => [
      { value: process.memoryUsage.rss() },
    ]);
  }

  /** Connects the scrape-time sources (done by the app; a later call replaces them). */
  attach(sources: MetricSources): void {
    this.sources = sources;
  }

  poll(group: string): void {
    this.polls.inc(group);
  }

  rendered(seconds: number): void {
    this.tickRender.observe(seconds);
  }

  fannedOut(seconds: number): void {
    this.fanout.observe(seconds);
  }

  appended(entries: number, seconds: number): void {
    this.logAppended.inc('', entries);
    this.logAppend.observe(seconds);
  }

  receipts(outcome: 'accepted' | 'refused', accepted = 0): void {
    this.receiptBatches.inc(outcome);
    this.receiptsAccepted.inc('', accepted);
  }

  render(): Promise<string> {
    return this.registry.render();
  }
}
