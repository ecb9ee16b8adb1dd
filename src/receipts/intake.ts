import { createHash } from 'node:crypto';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { Db } from '../db/schema.js';
import { leafBytes } from '../log/leaves.js';
import type { Sequencer } from '../log/sequencer.js';
import type { TufKey } from '../tuf/keys.js';
import type { IntakeBudget } from './budget.js';
import { FairpatchError } from '../errors.js';
import { assertLeafFits } from '../log/limits.js';
import { judgeReceiptBatch } from './check.js';
import type { VouchedAgents } from './enrollments.js';
import type { ReceiptCheckers } from './checkers.js';

/** How long the declared groups are taken as read: a declaration reaches every node within it. */
const DECLARED_TTL_MS = 5000;

export interface IntakeResult {
  accepted: number;
  newDocuments: number;
  logIndex: number;
}

/**
 * Receives agents' signed observations: each must carry a valid agent signature (unsigned or
 * re-labelled ones are refused), name a timestamp document signed by a key some trusted root named,
 * name a group the operator declared (once it has declared any), and stay within the budgets: what
 * one agent key may add per minute, the small pool all unvouched keys share, and the bytes clients may
 * add to the log per minute. Identical documents from many agents are
 * verified and logged once; an observation already logged (same signature) is acknowledged, not
 * logged again. The batch becomes one `receipts.batch` leaf; one bad receipt refuses it whole.
 */
export class ReceiptIntake {
  /** Digests already verified by this node: the common case is thousands of agents, one document per tick. */
  private readonly verified = new Map<string, VerifiedDocument>();
  /** Signatures already logged by this node (a retry after a lost answer), bounded. */
  private readonly seen = new Set<string>();
  /** The declared groups as last read, and when: re-read at most every DECLARED_TTL_MS. */
  private declared: { at: number; groups: Promise<ReadonlySet<string> | undefined> } | undefined;

  constructor(
    private readonly db: Db,
    private readonly sequencer: Sequencer,
    private readonly timestampKeys: () => ReadonlyMap<string, TufKey>,
    private readonly checkers: ReceiptCheckers,
    private readonly now: () => number,
    /** Per key, the unvouched pool and the bytes clients may add (src/receipts/budget.ts). */
    private readonly budget: IntakeBudget,
    /** The groups the operator declared, undefined while it has declared none. */
    private readonly declaredGroups: () => Promise<ReadonlySet<string> | undefined> = async () =>
      undefined,
    /** Owners' certificates: which keys are vouched (the budget asks it), and which to log. */
    private readonly enrollments?: VouchedAgents,
  ) {}

  /** Takes the request body's text (JSON), as read from the client. */
  async submit(text: string): Promise<IntakeResult> {
    const { batch, prepared } = await this.checkers.prepare(text);
    const texts = await judgeReceiptBatch(
      batch,
      prepared,
      (digest) => this.verified.has(digest),
      (_digest, document) => {
        const doc = verifyTimestampDocument(document, this.timestampKeys());
        if (doc) this.remember(doc);
        return doc !== undefined;
      },
      'not a timestamp signed by a trusted timestamp key',
    );
    await this.assertDeclared(batch.receipts.map((r) => r.observation.group));
    // Before the budget is charged: a vouched key draws on its own budget, not the unvouched pool.
    const certificates =
      (await this.enrollments?.admit(
        batch.enrollments ?? [],
        batch.receipts.map((r) => r.observation),
      )) ?? [];
    const fresh = batch.receipts.filter((r) => !this.seen.has(r.sig));
    if (fresh.length === 0)
      return { accepted: batch.receipts.length, newDocuments: 0, logIndex: -1 };

    // Documents already in the log are referenced by digest only.
    const named = [...new Set(fresh.map((r) => r.observation.document))];
    const documents: Record<string, string> = {};
    for (const d of named) {
      const text = texts.get(d);
      if (text) documents[d] = text;
    }
    const digests = Object.keys(documents);
    for (let i = 0; i < digests.length; i += 500) {
      const rows = await this.db
        .selectFrom('receipt_documents')
        .select('digest')
        .where('digest', 'in', digests.slice(i, i + 500))
        .execute();
      for (const r of rows) delete documents[r.digest];
    }
    const leaf = {
      type: 'receipts.batch' as const,
      v: 2 as const,
      documents,
      receipts: fresh,
      ...(certificates.length > 0 ? { enrollments: certificates } : {}),
    };
    const dedupe =
      'receipts:' +
      createHash('sha256')
        .update(fresh.map((r) => r.sig).join(','))
        .digest('hex');
    const data = leafBytes(leaf);
    assertLeafFits(data, 'this batch of receipts');
    // Every budget checked before anything is written; the documents' table grows with the leaf.
    const documentBytes = Object.values(documents).reduce((n, text) => n + text.length, 0);
    this.budget.charge(
      fresh.map((r) => r.observation),
      data.length + documentBytes,
    );
    const logIndex = await this.sequencer.append({ dedupe, data });
    for (const r of fresh) this.remember(r.sig);
    this.enrollments?.markLogged(certificates);
    // Recorded only once logged: a crash in between just logs the document text again next time.
    const logged = Object.entries(documents);
    for (let i = 0; i < logged.length; i += 200) {
      await this.db
        .insertInto('receipt_documents')
        .values(
          logged.slice(i, i + 200).map(([digest, text]) => ({
            digest,
            tick: this.verified.get(digest)?.tick ?? 0,
            document: text,
          })),
        )
        .onConflict((oc) => oc.column('digest').doNothing())
        .execute();
    }
    return { accepted: batch.receipts.length, newDocuments: logged.length, logIndex };
  }

  /**
   * Once the operator has declared its groups, evidence about any other group (a receipt, an install
   * report) is refused: group names come from clients, who could invent any number of them.
   */
  async assertDeclared(groups: readonly string[]): Promise<void> {
    const t = this.now();
    if (!this.declared || t - this.declared.at >= DECLARED_TTL_MS || t < this.declared.at)
      this.declared = { at: t, groups: this.declaredGroups() };
    const declared = await this.declared.groups;
    if (!declared) return;
    for (const group of groups)
      if (!declared.has(group))
        throw new FairpatchError(
          'GROUP_UNDECLARED',
          `group ${group} is not one the operator declared`,
          { details: { group } },
        );
  }

  private remember(item: VerifiedDocument | string): void {
    if (typeof item === 'string') {
      if (this.seen.size > 200_000) this.seen.clear();
      this.seen.add(item);
      return;
    }
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(item.digest, item);
  }
}
