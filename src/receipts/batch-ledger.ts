import { createHash } from 'node:crypto';
import type { Db } from '../db/schema.js';
import { leafBytes } from '../log/leaves.js';
import { assertLeafFits } from '../log/limits.js';
import type { Sequencer } from '../log/sequencer.js';
import type { TufKey } from '../tuf/keys.js';
import { verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { AdmittedBatch, PlannedWrite, ReceiptLedger, TimestampTrust } from './intake.js';
import { knownDocuments, storeDocuments } from './documents.js';

/** The node's answer: how many receipts it took, how many documents it logged anew, and where. */
export interface IntakeResult {
  accepted: number;
  newDocuments: number;
  /** -1 when every receipt was logged already. */
  logIndex: number;
}

/** A node takes receipts about the timestamps its own roots' keys signed (`keys`: those in force). */
export function trustedTimestamps(keys: () => ReadonlyMap<string, TufKey>): TimestampTrust {
  return {
    verify: (document) => verifyTimestampDocument(document, keys()),
    refusal: 'not a timestamp signed by a trusted timestamp key',
  };
}

/**
 * The repository node's ledger: a batch becomes one `receipts.batch` leaf of its log, with the
 * documents the log does not hold yet (those already in it are named by digest only).
 */
export class BatchLedger implements ReceiptLedger<IntakeResult> {
  constructor(
    private readonly db: Db,
    private readonly sequencer: Sequencer,
  ) {}

  async plan(admitted: AdmittedBatch): Promise<PlannedWrite<IntakeResult>> {
    const accepted = admitted.batch.receipts.length;
    const fresh = admitted.receipts.filter((r) => !r.lately).map((r) => r.receipt);
    if (fresh.length === 0)
      return {
        charged: [],
        bytes: 0,
        certificates: [],
        write: async () => ({ accepted, newDocuments: 0, logIndex: -1 }),
      };

    const documents: Record<string, string> = {};
    for (const d of new Set(fresh.map((r) => r.observation.document))) {
      const text = admitted.texts.get(d);
      if (text) documents[d] = text;
    }
    for (const digest of await knownDocuments(this.db, Object.keys(documents)))
      delete documents[digest];
    const { certificates } = admitted;
    const data = leafBytes({
      type: 'receipts.batch' as const,
      v: 2 as const,
      documents,
      receipts: fresh,
      ...(certificates.length > 0 ? { enrollments: certificates } : {}),
    });
    assertLeafFits(data, 'this batch of receipts');
    const dedupe =
      'receipts:' +
      createHash('sha256')
        .update(fresh.map((r) => r.sig).join(','))
        .digest('hex');
    // The documents' table grows with the leaf.
    const logged = Object.entries(documents);
    return {
      charged: fresh.map((r) => r.observation),
      bytes: data.length + logged.reduce((n, [, text]) => n + text.length, 0),
      certificates,
      write: async () => {
        const logIndex = await this.sequencer.append({ dedupe, data });
        // Recorded only once logged: a crash in between just logs the document text again next time.
        await storeDocuments(
          this.db,
          logged.map(([digest, document]) => ({
            digest,
            tick: admitted.tickOf(digest),
            document,
          })),
        );
        return { accepted, newDocuments: logged.length, logIndex };
      },
    };
  }
}
