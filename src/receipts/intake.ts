import type { SignedEnrollment } from '../common/enrollment.js';
import type { ReceiptBatch, SignedObservation } from '../common/observation.js';
import { FairpatchError } from '../errors.js';
import type { VerifiedDocument } from '../tuf/timestamp-document.js';
import type { IntakeBudget } from './budget.js';
import { judgeReceiptBatch } from './check.js';
import type { ReceiptCheckers } from './checkers.js';
import type { VouchedAgents } from './enrollments.js';

/** How long the declared groups are taken as read: a declaration reaches every node within it. */
const DECLARED_TTL_MS = 5000;

/** A batch that passed every check, as the intake hands it to its ledger. */
export interface AdmittedBatch {
  batch: ReceiptBatch;
  /**
   * One entry per signature (the first of the batch: a signature is one receipt), with the
   * observation's canonical text and whether this intake logged that signature lately.
   */
  receipts: Array<{ receipt: SignedObservation; observation: string; lately: boolean }>;
  /** Each document's canonical text, by digest. */
  texts: ReadonlyMap<string, string>;
  /** The tick a document was verified for; 0 once forgotten. */
  tickOf(digest: string): number;
  /** The batch's certificates this intake has not logged yet (all of them checked). */
  certificates: SignedEnrollment[];
}

/** What a ledger will write for a batch, sized before anything is written so the budget can refuse it. */
export interface PlannedWrite<Answer> {
  /** The receipts charged to their keys' budgets (those not logged lately). */
  charged: ReadonlyArray<{ agent: string; group: string }>;
  /** Bytes the write adds to the log and the database. */
  bytes: number;
  /** The certificates the write logs: each is logged once. */
  certificates: readonly SignedEnrollment[];
  /** Writes, and gives the client's answer. */
  write(): Promise<Answer>;
}

/**
 * Where admitted receipts go and what the client is answered: the node logs one `receipts.batch`
 * leaf (src/receipts/batch-ledger.ts), a witness one leaf per receipt with its proof (src/witness/ledger.ts).
 */
export interface ReceiptLedger<Answer> {
  plan(admitted: AdmittedBatch): Promise<PlannedWrite<Answer>>;
}

/** Which timestamp documents an intake takes receipts about. */
export interface TimestampTrust {
  /** The document, verified, if a key this intake trusts signed it. */
  verify(document: unknown): VerifiedDocument | undefined | Promise<VerifiedDocument | undefined>;
  /** The refusal's words for a document no such key signed. */
  refusal: string;
}

export interface IntakeParts<Answer> {
  checkers: ReceiptCheckers;
  trust: TimestampTrust;
  /** Per key, the unvouched pool and the bytes clients may add (src/receipts/budget.ts). */
  budget: IntakeBudget;
  ledger: ReceiptLedger<Answer>;
  /** Owners' certificates: checked, which keys are vouched, which are logged already. */
  enrollments: VouchedAgents;
  now: () => number;
  /** The groups the operator declared, undefined while it has declared none (a witness: always). */
  declaredGroups?: () => Promise<ReadonlySet<string> | undefined>;
}

/**
 * The one receipt intake, the node's and a witness's: each receipt must carry a valid agent
 * signature (unsigned or re-labelled ones are refused), name a timestamp document signed by a key
 * the intake trusts, name a group the operator declared (once it has declared any), and stay within
 * the budgets: what one agent key may add per minute, the small pool all unvouched keys share, and
 * the bytes clients may add per minute. Every check and every budget comes before the ledger writes
 * anything; one bad receipt refuses the batch whole. Identical documents from many agents are
 * verified once; a receipt logged lately (same signature) is not charged again.
 */
export class ReceiptIntake<Answer> {
  /** Digests already verified: the common case is thousands of agents, one document per tick. */
  private readonly verified = new Map<string, VerifiedDocument>();
  /** Signatures logged lately (a retry after a lost answer), bounded. */
  private readonly seen = new Set<string>();
  /** The declared groups as last read, and when: re-read at most every DECLARED_TTL_MS. */
  private declared: { at: number; groups: Promise<ReadonlySet<string> | undefined> } | undefined;

  constructor(private readonly parts: IntakeParts<Answer>) {}

  /** Takes the request body's text (JSON), as read from the client. */
  async submit(text: string): Promise<Answer> {
    const { checkers, trust, budget, ledger, enrollments } = this.parts;
    const { batch, prepared } = await checkers.prepare(text);
    const texts = await judgeReceiptBatch(
      batch,
      prepared,
      (digest) => this.verified.has(digest),
      async (_digest, document) => {
        const doc = await trust.verify(document);
        if (doc) {
          if (this.verified.size > 10_000) this.verified.clear();
          this.verified.set(doc.digest, doc);
        }
        return doc !== undefined;
      },
      trust.refusal,
    );
    const observations = batch.receipts.map((r) => r.observation);
    await this.assertDeclared(observations.map((o) => o.group));
    // Before the budget is charged: a vouched key draws on its own budget, not the unvouched pool.
    const certificates = await enrollments.admit(batch.enrollments ?? [], observations);

    const firsts = new Map<string, number>();
    for (const [i, r] of batch.receipts.entries()) if (!firsts.has(r.sig)) firsts.set(r.sig, i);
    const receipts = [...firsts.values()].map((i) => {
      const receipt = batch.receipts[i] as SignedObservation;
      return {
        receipt,
        observation: prepared.observations[i] as string,
        lately: this.seen.has(receipt.sig),
      };
    });
    const plan = await ledger.plan({
      batch,
      receipts,
      texts,
      tickOf: (digest) => this.verified.get(digest)?.tick ?? 0,
      certificates,
    });
    budget.charge(plan.charged, plan.bytes);
    const answer = await plan.write();
    for (const r of receipts) this.remember(r.receipt.sig);
    enrollments.markLogged(plan.certificates);
    return answer;
  }

  /**
   * The owner's certificate an install report carries, checked exactly as a batch's are (for the
   * report's signer and group, the owner's signature); its key is vouched if a declared owner signed
   * it. Any node of one database so knows a vouched key, restarted or not, without its receipts.
   */
  async admitEnrollment(
    certificate: SignedEnrollment,
    signer: { agent: string; group: string },
  ): Promise<void> {
    await this.parts.enrollments.admit([certificate], [signer]);
  }

  /**
   * Once the operator has declared its groups, evidence about any other group (a receipt, an install
   * report) is refused: group names come from clients, who could invent any number of them.
   */
  async assertDeclared(groups: readonly string[]): Promise<void> {
    if (!this.parts.declaredGroups) return;
    const t = this.parts.now();
    if (!this.declared || t - this.declared.at >= DECLARED_TTL_MS || t < this.declared.at)
      this.declared = { at: t, groups: this.parts.declaredGroups() };
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

  private remember(sig: string): void {
    if (this.seen.size > 200_000) this.seen.clear();
    this.seen.add(sig);
  }
}
