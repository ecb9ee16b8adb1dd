import type { Leaf } from '../log/leaves.js';
import { digestOf } from './digest/log-digest.js';
import {
  type ReceiptDigest,
  type Run,
  mergeRun,
  runId,
  runOf,
  signedKey,
} from './digest/receipts.js';
import { receiptBatchSchema, verifyObservation } from '../common/observation.js';
import { canonicalBytes, parseJson } from '../common/canonical.js';
import type { TufKey } from '../tuf/keys.js';
import { sha256Hex } from '../tuf/metadata.js';
import { type VerifiedDocument, verifyTimestampDocument } from '../tuf/timestamp-document.js';
import type { Finding } from './report.js';
import { type KeyWindows, inForce } from './key-windows.js';

/** One agent's signed account of a run of polls, with the server-signed document it names. */
export interface Seen extends Omit<Run, 'document'> {
  doc: VerifiedDocument;
  /** Signed by a key a trusted owner of the group vouched for: only such testimony counts. */
  vouched: boolean;
}

/** Evidence from outside the audited log: a witness or an agent's exported receipts. */
export interface ExternalEvidence {
  source: string;
  documents: Record<string, unknown>;
  receipts: unknown[];
  /** Owners' certificates of the agents that signed (src/common/enrollment.ts), checked later. */
  enrollments?: unknown[];
}

/**
 * What was already checked, kept across evaluations by a long-lived reader: a document or a
 * signature is verified once, ever, however often the report is rebuilt. A signature's check is
 * kept under the signature and the words it was checked on (`signedKey`): the same signature copied
 * onto other words is a new check, never a reused one.
 */
export interface VerificationCache {
  documents: Map<string, VerifiedDocument | null>;
  signatures: Map<string, boolean>;
}

export const newVerificationCache = (): VerificationCache => ({
  documents: new Map(),
  signatures: new Map(),
});

/**
 * Every observation the auditor can check: agent-signed (by the key it names), about a timestamp
 * signed by a key a trusted root named. Unsigned (old) receipts and anything that fails a check are
 * reported and left out: one unauthenticated claim never counts. The same signature from several
 * sources counts once; a run signed again as it grew counts as its longest version. The log's
 * receipts come folded (src/audit/digest/receipts.ts); outside evidence is folded in here, into a
 * copy, so it never becomes part of what the auditor keeps of the log.
 */
export function collectObservations(input: {
  /** The log's receipts, folded; or its leaves, folded here. */
  receipts?: ReceiptDigest;
  leaves?: ReadonlyArray<{ index: number; leaf: Leaf }>;
  external: readonly ExternalEvidence[];
  timestampKeys: ReadonlyMap<string, TufKey>;
  cache?: VerificationCache;
  /** Whether the agent was vouched for the group at that time (none is, unless told). */
  vouched?: (group: string, agent: string, at: number) => boolean;
  /** When each timestamp key was in force (src/audit/key-windows.ts); every key always, unless told. */
  keyWindows?: KeyWindows;
}): { seen: Seen[]; documents: Map<string, VerifiedDocument>; notes: Finding[] } {
  const vouched = input.vouched ?? (() => false);
  const cache = input.cache ?? newVerificationCache();
  const logged = input.receipts ?? digestOf(input.leaves ?? []).receipts;
  const documents = new Map<string, VerifiedDocument>();
  const rejected = new Set<string>();
  const notes: Finding[] = [];

  const admitDocument = (digest: string, document: unknown, where: string): void => {
    if (documents.has(digest) || rejected.has(digest)) return;
    let doc = cache.documents.get(digest) ?? undefined;
    if (!cache.documents.has(digest)) {
      try {
        doc = verifyTimestampDocument(document, input.timestampKeys);
      } catch {
        doc = undefined;
      }
      cache.documents.set(digest, doc && doc.digest === digest ? doc : null);
    }
    const retired = doc && !inForce(input.keyWindows, signerKeyids(document), doc.tick);
    if (doc && doc.digest === digest && !retired) documents.set(digest, doc);
    else {
      rejected.add(digest);
      notes.push({
        kind: 'receipt-unverifiable',
        class: 'note',
        unfair: false,
        message: retired
          ? `document ${digest} (${where}) is signed for tick ${doc!.tick} only by timestamp keys not in force then (retired by a root rotation): no statement of the operator's`
          : `document ${digest} (${where}) is not a timestamp signed by a trusted key of this repository`,
        evidence: { digest, where },
      });
    }
  };
  const unverifiable = (source: string, sig: string): void => {
    notes.push({
      kind: 'receipt-unverifiable',
      class: 'note',
      unfair: false,
      message: `an observation from ${source} does not carry a valid agent signature`,
      evidence: { source, sig },
    });
  };

  for (const [digest, { text, leaf }] of logged.documents)
    admitDocument(digest, safeParse(text), `log leaf ${leaf}`);
  for (const key of logged.invalid) unverifiable('log', sigOf(key));
  if (logged.legacy > 0)
    notes.push({
      kind: 'receipt-unsigned',
      class: 'note',
      unfair: false,
      message: `${logged.legacy} receipts in the log predate agent signatures: not counted as evidence`,
      evidence: { count: logged.legacy },
    });

  const runs = new Map(logged.runs);
  // A receipt is judged once, wherever it turns up (one the log's receipts already failed, too); the
  // same signature on other words is another receipt, judged on its own.
  const met = new Set(logged.invalid);
  for (const e of input.external) {
    const parsed = receiptBatchSchema.safeParse({ documents: e.documents, receipts: e.receipts });
    if (!parsed.success) {
      notes.push({
        kind: 'receipt-unverifiable',
        class: 'note',
        unfair: false,
        message: `evidence from ${e.source} is not a receipt batch: ${parsed.error.issues[0]?.message ?? ''}`,
        evidence: { source: e.source },
      });
      continue;
    }
    for (const [digest, document] of Object.entries(parsed.data.documents)) {
      if (sha256Hex(canonicalBytes(document)) === digest) admitDocument(digest, document, e.source);
    }
    for (const signed of parsed.data.receipts) {
      const key = signedKey(signed.sig, signed.observation);
      if (met.has(key)) continue;
      met.add(key);
      let valid = cache.signatures.get(key);
      if (valid === undefined) {
        valid = verifyObservation(signed);
        cache.signatures.set(key, valid);
      }
      if (!valid) unverifiable(e.source, signed.sig);
      else if (documents.has(signed.observation.document))
        mergeRun(runs, runId(signed.observation), runOf(signed, e.source));
    }
  }

  const seen: Seen[] = [];
  for (const run of runs.values()) {
    const doc = documents.get(run.document);
    if (!doc) continue;
    const { document: _, ...rest } = run;
    seen.push({ ...rest, doc, vouched: vouched(run.group, run.agent, run.lastAt) });
  }
  return { seen, documents, notes };
}

/** The signature a `signedKey` is under. */
const sigOf = (key: string): string => key.slice(0, key.indexOf('\n'));

/** The key ids a timestamp document's signatures name (the strict check has verified every one). */
function signerKeyids(document: unknown): string[] {
  const signatures = (document as { signatures?: Array<{ keyid?: unknown }> }).signatures ?? [];
  return signatures.flatMap((s) => (typeof s.keyid === 'string' ? [s.keyid] : []));
}

function safeParse(text: string): unknown {
  try {
    return parseJson(text);
  } catch {
    return undefined;
  }
}
