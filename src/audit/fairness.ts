import type { Leaf, LeafOf } from '../log/leaves.js';
import type { TufKey } from '../tuf/keys.js';
import { tickStart as startOfTick } from '../common/tick.js';
import { parseJson } from '../tuf/canonical.js';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';

// The fairness verdict, a pure function of the verified log, the trusted timestamp keys
// and the auditor's clock. Every finding carries the leaf indices and documents it rests on.

export interface AuditOptions {
  /** A receipt received later than this after its tick started is a stale response. */
  maxStalenessMs: number;
  /** How long after a release's activation tick the auditor waits for its activation leaf. */
  activationGraceMs: number;
}

export const DEFAULT_AUDIT_OPTIONS: AuditOptions = { maxStalenessMs: 5_000, activationGraceMs: 60_000 };

export type FindingKind = 'activation-late' | 'activation-missing' | 'stale-after-activation' | 'stale-response' | 'equivocation' | 'log-inconsistent' | 'receipt-unverifiable';

export interface Finding {
  kind: FindingKind;
  /** Only findings that prove misbehaviour make the verdict UNFAIR; the rest are reported. */
  unfair: boolean;
  group?: string;
  release?: string;
  message: string;
  evidence: Record<string, unknown>;
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

export interface GroupDelivery {
  /** First time the group was served a statement carrying the release, minus release_at. */
  firstDeliveryMs: number;
  source: 'receipt' | 'rollup';
  stalePolls: number;
  leafIndex: number;
  /** The push at the activation tick: streams notified and fan-out start to last write. */
  notification?: { connections: number; delayMs: number };
}

export interface ReleaseReport {
  id: string;
  vendor: string;
  metadataVersion: number;
  releaseAt: number;
  targets: string[];
  scheduledLeaf: number;
  activation?: { tick: number; tickStart: number; delayMs: number; snapshotVersion: number; leaf: number };
  groups: Record<string, GroupDelivery>;
  equityGapMs?: number;
}

export interface FairnessReport {
  verdict: 'FAIR' | 'UNFAIR';
  logSize: number;
  tickMs: number;
  releases: ReleaseReport[];
  groups: Record<string, { receipts: number; staleness: Percentiles; polls: number }>;
  findings: Finding[];
}

interface Observation {
  group: string;
  client: string;
  receivedAt: number;
  doc: VerifiedDocument;
  leaf: number;
}

export function evaluateFairness(input: {
  leaves: ReadonlyArray<{ index: number; leaf: Leaf }>;
  timestampKeys: ReadonlyMap<string, TufKey>;
  now: number;
  options?: Partial<AuditOptions>;
  extraFindings?: Finding[];
}): FairnessReport {
  const options = { ...DEFAULT_AUDIT_OPTIONS, ...input.options };
  const findings: Finding[] = [...(input.extraFindings ?? [])];
  const of = <T extends Leaf['type']>(type: T) => input.leaves.filter((l): l is { index: number; leaf: LeafOf<T> } => l.leaf.type === type);

  const created = of('repository.created')[0]?.leaf;
  const clock = { epochMs: created?.epoch_ms ?? 0, tickMs: created?.tick_ms ?? 1000 };
  const tickStart = (k: number): number => startOfTick(clock, k);

  // Receipts: verify each distinct document once, then every observation of it.
  const documents = new Map<string, VerifiedDocument | undefined>();
  const observations: Observation[] = [];
  for (const { index, leaf } of of('receipts.batch')) {
    for (const [digest, text] of Object.entries(leaf.documents)) {
      if (documents.has(digest)) continue;
      let doc: VerifiedDocument | undefined;
      try {
        doc = verifyTimestampDocument(parseJson(text), input.timestampKeys);
      } catch {
        doc = undefined;
      }
      documents.set(digest, doc && doc.digest === digest ? doc : undefined);
      if (!documents.get(digest)) findings.push({ kind: 'receipt-unverifiable', unfair: false, message: `receipt document ${digest} is not a valid signed timestamp`, evidence: { leaf: index, digest } });
    }
    for (const o of leaf.observations) {
      const doc = documents.get(o.document);
      if (doc) observations.push({ group: o.group, client: o.client, receivedAt: Date.parse(o.received_at), doc, leaf: index });
    }
  }

  // Equivocation: two different signed statements for one tick.
  const byTick = new Map<number, VerifiedDocument>();
  for (const doc of documents.values()) {
    if (!doc) continue;
    const other = byTick.get(doc.tick);
    if (other && other.digest !== doc.digest) {
      const groups = [...new Set(observations.filter((o) => o.doc === doc || o.doc === other).map((o) => o.group))].sort();
      findings.push({
        kind: 'equivocation',
        unfair: true,
        message: `two different timestamp documents signed for tick ${doc.tick} (groups ${groups.join(', ')})`,
        evidence: { tick: doc.tick, documents: [other.bytes.toString(), doc.bytes.toString()], groups },
      });
    } else byTick.set(doc.tick, doc);
  }

  // Staleness per group: receive time minus the start of the tick the document was signed for.
  const groupStats = new Map<string, { staleness: number[]; polls: number }>();
  const statsOf = (g: string) => groupStats.get(g) ?? (groupStats.set(g, { staleness: [], polls: 0 }).get(g) as { staleness: number[]; polls: number });
  for (const o of observations) {
    const staleness = o.receivedAt - tickStart(o.doc.tick);
    statsOf(o.group).staleness.push(staleness);
    if (staleness > options.maxStalenessMs) {
      findings.push({
        kind: 'stale-response',
        unfair: true,
        group: o.group,
        message: `group ${o.group} was served tick ${o.doc.tick} ${Math.round(staleness / 1000)}s after it started (allowed ${options.maxStalenessMs / 1000}s)`,
        evidence: { leaf: o.leaf, client: o.client, received_at: new Date(o.receivedAt).toISOString(), document: o.doc.bytes.toString() },
      });
    }
  }
  for (const { leaf } of of('delivery.rollup')) for (const [g, d] of Object.entries(leaf.groups)) statsOf(g).polls += d.polls;

  // Releases: schedule (committed in advance), activation, delivery per group.
  const activations = new Map(of('release.activated').map((a) => [`${a.leaf.vendor}/${a.leaf.metadata_version}`, a]));
  const halts = of('release.halted');
  const releases: ReleaseReport[] = [];
  for (const { index, leaf } of of('release.scheduled')) {
    const id = `${leaf.vendor}/${leaf.metadata_version}`;
    const releaseAt = Date.parse(leaf.release_at);
    const report: ReleaseReport = { id, vendor: leaf.vendor, metadataVersion: leaf.metadata_version, releaseAt, targets: Object.keys(leaf.targets), scheduledLeaf: index, groups: {} };
    releases.push(report);
    const act = activations.get(id);
    const supersededByHalt = halts.some((h) => h.leaf.vendor === leaf.vendor && h.leaf.metadata_version > leaf.metadata_version && h.leaf.activation_tick <= leaf.activation_tick);
    if (!act) {
      const due = tickStart(leaf.activation_tick) + options.activationGraceMs;
      if (!supersededByHalt && input.now > due) {
        findings.push({ kind: 'activation-missing', unfair: true, release: id, message: `${id} was due at tick ${leaf.activation_tick} but no activation was logged`, evidence: { scheduled_leaf: index } });
      }
      continue;
    }
    const start = tickStart(act.leaf.tick);
    report.activation = { tick: act.leaf.tick, tickStart: start, delayMs: start - releaseAt, snapshotVersion: act.leaf.snapshot_version, leaf: act.index };
    if (start - releaseAt > clock.tickMs || start < releaseAt) {
      findings.push({ kind: 'activation-late', unfair: true, release: id, message: `${id} activated at tick ${act.leaf.tick}, ${start - releaseAt} ms after release_at`, evidence: { scheduled_leaf: index, activated_leaf: act.index } });
    }
    evaluateDelivery(report, act.leaf.snapshot_version, act.leaf.tick);
  }

  function evaluateDelivery(report: ReleaseReport, carrying: number, activationTick: number): void {
    // From receipts: the first statement carrying the release each group accepted.
    for (const o of observations) {
      if (o.doc.snapshotVersion >= carrying) {
        const delay = o.receivedAt - report.releaseAt;
        const current = report.groups[o.group];
        if (!current || (current.source === 'receipt' && delay < current.firstDeliveryMs)) report.groups[o.group] = { firstDeliveryMs: delay, source: 'receipt', stalePolls: current?.stalePolls ?? 0, leafIndex: o.leaf };
      } else if (o.receivedAt >= tickStart(activationTick) + options.maxStalenessMs) {
        // Withheld: after the activation tick (plus the staleness allowance) this group still got a statement without the release.
        const g = report.groups[o.group] ?? { firstDeliveryMs: Number.NaN, source: 'receipt', stalePolls: 0, leafIndex: o.leaf };
        g.stalePolls++;
        report.groups[o.group] = g;
        findings.push({
          kind: 'stale-after-activation',
          unfair: true,
          group: o.group,
          release: report.id,
          message: `group ${o.group} was served snapshot ${o.doc.snapshotVersion} (without ${report.id}) ${Math.round((o.receivedAt - tickStart(activationTick)) / 1000)}s after its activation`,
          evidence: { leaf: o.leaf, client: o.client, received_at: new Date(o.receivedAt).toISOString(), document: o.doc.bytes.toString() },
        });
      }
    }
    // From the nodes' own roll-ups: first tick each group was served a carrying snapshot, and stale polls.
    for (const { index, leaf } of of('delivery.rollup')) {
      for (const [g, d] of Object.entries(leaf.groups)) {
        for (const [v, vd] of Object.entries(d.versions)) {
          const version = Number(v);
          if (version >= carrying) {
            const delay = tickStart(vd.first_tick) - report.releaseAt;
            const current = report.groups[g];
            if (!current) report.groups[g] = { firstDeliveryMs: delay, source: 'rollup', stalePolls: 0, leafIndex: index };
            else if (current.source === 'rollup' && delay < current.firstDeliveryMs) Object.assign(current, { firstDeliveryMs: delay, leafIndex: index });
          } else if (vd.last_tick >= activationTick) {
            const current = report.groups[g] ?? { firstDeliveryMs: Number.NaN, source: 'rollup' as const, stalePolls: 0, leafIndex: index };
            current.stalePolls += vd.first_tick >= activationTick ? vd.polls : 1;
            report.groups[g] = current;
            findings.push({ kind: 'stale-after-activation', unfair: true, group: g, release: report.id, message: `a node reports serving group ${g} snapshot ${version} at tick ${vd.last_tick}, after ${report.id} activated at tick ${activationTick}`, evidence: { leaf: index } });
          }
        }
      }
    }
    // Push notifications at the activation tick, as the nodes rolled them up.
    for (const { index, leaf } of of('delivery.rollup')) {
      for (const [g, d] of Object.entries(leaf.groups)) {
        const pushed = d.notifications?.[String(activationTick)];
        if (!pushed) continue;
        const entry = report.groups[g] ?? { firstDeliveryMs: Number.NaN, source: 'rollup' as const, stalePolls: 0, leafIndex: index };
        const prev = entry.notification;
        entry.notification = { connections: (prev?.connections ?? 0) + pushed.connections, delayMs: Math.max(prev?.delayMs ?? 0, pushed.fanout_us / 1000) };
        report.groups[g] = entry;
      }
    }
    const delays = Object.values(report.groups).map((g) => g.firstDeliveryMs).filter((d) => Number.isFinite(d));
    if (delays.length > 0) report.equityGapMs = Math.max(...delays) - Math.min(...delays);
  }

  const groups: FairnessReport['groups'] = {};
  for (const [g, s] of [...groupStats].sort(([a], [b]) => a.localeCompare(b))) groups[g] = { receipts: s.staleness.length, staleness: percentiles(s.staleness), polls: s.polls };
  return {
    verdict: findings.some((f) => f.unfair) ? 'UNFAIR' : 'FAIR',
    logSize: input.leaves.length,
    tickMs: clock.tickMs,
    releases,
    groups,
    findings,
  };
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? 0 };
}
