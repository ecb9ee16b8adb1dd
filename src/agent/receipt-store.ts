import type { SignedEnrollment } from '../common/enrollment.js';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import type { SignedObservation } from '../common/observation.js';

/** A signed observation with the timestamp document it names: together, evidence anyone can check. */
export interface Receipt {
  signed: SignedObservation;
  document: Record<string, unknown>;
}

/**
 * Receipts kept in the agent's state dir as JSON lines. Bounded: the current file rotates at
 * `perFile` lines and only the newest `files` files are kept. `submitted` tracks, by signature, what
 * the server has acknowledged. A run that grew is signed again: the newest signature of a run
 * (agent, document, first_at) supersedes the older ones, here and at the auditor.
 */
export class ReceiptStore {
  private readonly dir: string;

  constructor(
    stateDir: string,
    private readonly limits = { perFile: 1000, files: 20 },
  ) {
    this.dir = join(stateDir, 'receipts');
    mkdirSync(this.dir, { recursive: true });
  }

  private get current(): string {
    return join(this.dir, 'current.jsonl');
  }

  add(receipt: Receipt): void {
    appendFileSync(this.current, `${JSON.stringify(receipt)}\n`);
    if (this.lines(this.current).length >= this.limits.perFile) this.rotate();
  }

  private rotate(): void {
    renameSync(this.current, join(this.dir, `${Date.now()}-${process.pid}.jsonl`));
    const old = this.archived();
    for (const file of old.slice(0, Math.max(0, old.length - this.limits.files)))
      rmSync(join(this.dir, file));
  }

  private archived(): string[] {
    return readdirSync(this.dir)
      .filter((f) => /^\d+-\d+\.jsonl$/.test(f))
      .sort();
  }

  private lines(file: string): string[] {
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** Every receipt kept, oldest first, one per run (the newest signature of each). */
  all(): Receipt[] {
    const runs = new Map<string, Receipt>();
    for (const file of [...this.archived().map((f) => join(this.dir, f)), this.current]) {
      for (const line of this.lines(file)) {
        const r = JSON.parse(line) as Receipt;
        const o = r.signed.observation;
        const id = `${o.document}@${o.first_at}@${o.via}`;
        runs.delete(id);
        runs.set(id, r);
      }
    }
    return [...runs.values()];
  }

  /**
   * Receipts not yet delivered: to the server (no `witness`), or to the witness at that URL, where
   * delivered means included in its log under a checkpoint its key signed.
   */
  unsubmitted(witness?: string): Receipt[] {
    const done = new Set(this.lines(this.deliveredFile(witness)));
    return this.all().filter((r) => !done.has(r.signed.sig));
  }

  markSubmitted(receipts: readonly Receipt[], witness?: string): void {
    const file = this.deliveredFile(witness);
    const keep = new Set(this.all().map((r) => r.signed.sig));
    const done = [
      ...this.lines(file).filter((k) => keep.has(k)),
      ...receipts.map((r) => r.signed.sig),
    ];
    writeFileAtomic(file, `${done.join('\n')}\n`);
  }

  /** `submitted` for the server (as before witnesses); one file per witness, named by its URL's hash. */
  private deliveredFile(witness: string | undefined): string {
    return join(
      this.dir,
      witness === undefined
        ? 'submitted'
        : `witness-${createHash('sha256').update(witness).digest('hex').slice(0, 16)}`,
    );
  }
}

/**
 * The body of `POST /receipts`: the signed observations and each document they name, once, and the
 * owner's certificate of the agent when it has one (src/agent/enrollment-file.ts).
 */
export function receiptBatch(
  receipts: readonly Receipt[],
  enrollment?: SignedEnrollment,
): {
  documents: Record<string, Record<string, unknown>>;
  receipts: Receipt['signed'][];
  enrollments?: SignedEnrollment[];
} {
  const documents: Record<string, Record<string, unknown>> = {};
  for (const r of receipts) documents[r.signed.observation.document] = r.document;
  return {
    documents,
    receipts: receipts.map((r) => r.signed),
    ...(enrollment ? { enrollments: [enrollment] } : {}),
  };
}
