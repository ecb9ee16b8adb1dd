import { evaluateFairness, type FairnessReport } from '../audit/fairness.js';
import { type CheckpointView, renderReportHtml } from '../audit/html.js';
import { newVerificationCache } from '../audit/observations.js';
import { emptyLogDigest, foldLeaf, foldMemo } from '../audit/digest/log-digest.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { cosignatureLines } from '../log/cosignature.js';
import { parseLeaf, type Leaf } from '../log/leaves.js';
import { ENTRIES_PAGE_BYTES } from '../log/limits.js';
import type { LogStore } from '../log/store.js';
import type { Repository } from '../release/repository.js';
import { RolloutEvidence } from '../release/rollout-evidence.js';
import { type AuditedSalt, stagedPlanOf } from '../audit/rollout.js';
import { saltAsLogged } from '../rollout/salt.js';

/** The shortest time between two rebuilds, whatever the traffic. */
const REBUILD_MS = 2000;
/** A rebuild that took T waits at least this many T before the next: the dashboard's share of the loop. */
const IDLE_FACTOR = 10;
/**
 * Leaves read and folded between two turns of the event loop: about 5 ms of parsing and folding
 * here (a first rebuild of a 1,000,000-entry log folds every leaf once), so polls wait no longer.
 */
const PAGE_LEAVES = 200;
/** Unreadable leaves named on the page (the count says how many more). */
const MAX_NOTICES = 5;

/** One built page: the report, its HTML, and what it covers. */
export interface DashboardPage {
  at: number;
  logSize: number;
  report: FairnessReport;
  html: string;
}

/** Why the page served is not the log as it is now, and since when. */
export interface Staleness {
  since: number;
  reason: string;
}

/** The log outgrew what this node's dashboard reads into memory. */
class TooLarge extends Error {}

/**
 * The dashboard's rebuild: reads the log's new leaves in pages bounded in bytes (yielding to the
 * event loop between pages, so polls are answered while it reads), keeps at most `maxLogBytes` of
 * them, and evaluates them as the auditor does. A rebuild that fails (the log outgrew the bound, the
 * database was away, the evaluation threw) never takes the page down: the last good page stays
 * served, marked stale with the reason. A slow rebuild makes the next one wait in proportion, so
 * however large the log, the dashboard takes a bounded share of the node's time.
 */
export class DashboardRebuild {
  /** The leaves read so far, folded as the auditor folds them (src/audit/digest/). */
  private readonly digest = emptyLogDigest();
  private readonly cache = newVerificationCache();
  private readonly memo = foldMemo(this.digest);
  /** The next index to read, and the leaf bytes read so far. */
  private next = 0;
  private bytes = 0;
  private readonly unreadable: string[] = [];
  private unreadableCount = 0;
  /** Set once the log passed the bound. */
  private full: TooLarge | undefined;
  private building: Promise<void> | undefined;
  private notBefore = 0;
  /** Staged releases' salts as this node's log holds them (found once, never changing). */
  private readonly salts = new Map<string, AuditedSalt>();
  private rolloutEvidence: RolloutEvidence | undefined;
  /** Staged releases (by release, a target of theirs) whose salt is not cosigned yet, and how far the leaves were looked through. */
  private readonly unsalted = new Map<string, string>();
  private saltScan = 0;
  /** The last good page, and why it is stale (undefined: it is the log as last read). */
  page: DashboardPage | undefined;
  stale: Staleness | undefined;

  constructor(
    private readonly deps: {
      repo: Repository;
      log: LogStore;
      /** Leaf bytes kept in memory at most (the node's dashboardMaxLogBytes setting). */
      maxLogBytes: number;
    },
  ) {}

  /** Starts a rebuild if one is due; resolves once the rebuild under way (if any) is done. */
  kick(): Promise<void> {
    const now = this.deps.repo.clock.now();
    if (!this.building && now >= this.notBefore) {
      this.building = this.build().finally(() => {
        this.building = undefined;
      });
    }
    return this.building ?? Promise.resolve();
  }

  private async build(): Promise<void> {
    const started = performance.now();
    const now = this.deps.repo.clock.now();
    try {
      const { size } = await this.deps.log.head();
      try {
        await this.readUpTo(size);
      } catch (error) {
        // Past the bound: the leaves below it are still shown once, as a page that says so.
        if (!(error instanceof TooLarge) || (this.page?.logSize ?? -1) >= this.next) throw error;
        this.stale = { since: this.stale?.since ?? now, reason: error.message };
        const partial = this.built(now, this.next);
        partial.html = await this.render(partial.report, now);
        this.page = partial;
        return;
      }
      await this.findSalts();
      const page = this.built(now, size);
      this.stale = undefined;
      page.html = await this.render(page.report, now);
      this.page = page;
    } catch (error) {
      this.stale = { since: this.stale?.since ?? now, reason: reasonOf(error) };
      // The last good page, saying it is stale; kept as it was if even that cannot be rendered.
      if (this.page)
        this.page.html = await this.render(this.page.report, this.page.at).catch(
          () => this.page!.html,
        );
    } finally {
      const took = performance.now() - started;
      this.notBefore = this.deps.repo.clock.now() + Math.max(REBUILD_MS, IDLE_FACTOR * took);
    }
  }

  /** The evaluation of the leaves read so far, as the auditor's (its HTML rendered by the caller). */
  private built(now: number, logSize: number): DashboardPage {
    const report = evaluateFairness({
      digest: this.digest,
      timestampKeys: this.deps.repo.view.timestampKeys(),
      now,
      cache: this.cache,
      rolloutSalts: this.salts,
    });
    return { at: now, logSize, report, html: '' };
  }

  /**
   * The salt of each staged release read so far, from the first checkpoint holding its activation
   * that witnesses cosigned (src/rollout/salt.ts saltAsLogged): this node's own reading, so the page
   * shows who was eligible; the independent audit verifies the cosignatures.
   */
  private async findSalts(): Promise<void> {
    this.rolloutEvidence ??= new RolloutEvidence(this.deps.log);
    for (; this.saltScan < this.digest.leaves.length; this.saltScan++) {
      const { leaf } = this.digest.leaves[this.saltScan]!;
      if (leaf.type !== 'release.activated' || !('metadata' in leaf)) continue;
      for (const path of this.stagedTargets(leaf.metadata)) {
        const staged = stagedPlanOf(leaf.vendor, leaf.metadata, [path]);
        if (staged && !this.salts.has(staged.release)) this.unsalted.set(staged.release, path);
      }
    }
    for (const [release, target] of this.unsalted) {
      const evidence = await this.rolloutEvidence.forTarget(target).catch(() => undefined);
      for (const { note } of evidence?.checkpoints ?? []) {
        const salt = saltAsLogged(release, note);
        if (!salt) continue;
        this.salts.set(release, salt);
        this.unsalted.delete(release);
        break;
      }
    }
  }

  private stagedTargets(metadata: string): string[] {
    try {
      const targets =
        (
          JSON.parse(metadata) as {
            signed?: { targets?: Record<string, { custom?: { rollout?: unknown } }> };
          }
        ).signed?.targets ?? {};
      return Object.keys(targets).filter((t) => targets[t]?.custom?.rollout !== undefined);
    } catch {
      return [];
    }
  }

  private async readUpTo(size: number): Promise<void> {
    // The bound does not move while the node runs: past it once, past it for good (nothing re-read).
    if (this.full) throw this.full;
    while (this.next < size) {
      const end = Math.min(size, this.next + PAGE_LEAVES);
      const entries = await this.deps.log.entriesPage(this.next, end, ENTRIES_PAGE_BYTES);
      if (entries.length === 0) throw new Error(`the log returned no entries from ${this.next}`);
      for (const e of entries) {
        let leaf: Leaf;
        try {
          leaf = parseLeaf(Buffer.from(e.data, 'utf8'));
        } catch (error) {
          // One leaf the dashboard cannot read does not blind it: named on the page, left out.
          if (this.unreadable.length < MAX_NOTICES)
            this.unreadable.push(`leaf ${e.index}: ${(error as Error).message}`);
          this.unreadableCount++;
          this.next = e.index + 1;
          continue;
        }
        // Roll-ups are folded into sums; every other leaf (or the runs its receipts report) is kept.
        if (leaf.type !== 'delivery.rollup') {
          if (this.bytes + e.data.length > this.deps.maxLogBytes)
            throw (this.full = new TooLarge(
              `the log holds more than the ${this.deps.maxLogBytes} bytes of leaves other than roll-ups this node's dashboard keeps in memory (dashboardMaxLogBytes); the page shows the log below leaf ${e.index}. Run fairpatch audit for the whole log`,
            ));
          this.bytes += e.data.length;
        }
        this.digest.size = e.index;
        foldLeaf(this.digest, leaf, this.memo);
        this.next = e.index + 1;
      }
      // Polls first: the next page is read on a later turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async render(report: FairnessReport, at: number): Promise<string> {
    const notes = [
      `This node's reading of its transparency log at tick ${this.deps.repo.currentTick()} (${new Date(at).toISOString()}). Run fairpatch audit for an independent verdict.`,
    ];
    if (this.stale)
      notes.push(`STALE since ${new Date(this.stale.since).toISOString()}: ${this.stale.reason}.`);
    if (this.unreadableCount > 0)
      notes.push(
        `${this.unreadableCount} leaf/leaves could not be read and are left out: ${this.unreadable.join('; ')}${this.unreadableCount > this.unreadable.length ? '; …' : ''}.`,
      );
    return renderReportHtml(
      report,
      'fairpatch: releases and their delivery',
      notes.join(' '),
      await latestCheckpoint(this.deps.log),
    );
  }

  /** What the JSON answer says of the page beside the report. */
  status(): Record<string, unknown> {
    return {
      built_at: this.page ? new Date(this.page.at).toISOString() : null,
      log_size: this.page?.logSize ?? null,
      stale: this.stale
        ? { since: new Date(this.stale.since).toISOString(), reason: this.stale.reason }
        : null,
      unreadable_leaves: this.unreadableCount,
    };
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof TooLarge) return error.message;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `the last rebuild failed (${message.slice(0, 300)})`;
}

/** The newest checkpoint this node serves at `/log/checkpoint`, with the cosignatures it carries. */
async function latestCheckpoint(log: LogStore): Promise<CheckpointView | null> {
  const latest = await log.latestCheckpoint().catch(() => undefined);
  if (!latest) return null;
  const { note, createdAt } = latest;
  const { size, rootHash } = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
  return {
    size,
    rootHash: rootHash.toString('hex'),
    signedAt: createdAt,
    cosigners: cosignatureLines(note),
  };
}
