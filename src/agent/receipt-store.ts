import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import type { Receipt } from '../receipts/schema.js';

/**
 * Receipts kept in the agent's state dir: every signed timestamp it accepted, with its
 * receive time, as JSON lines. Bounded: the current file rotates at `perFile` lines and only the
 * newest `files` files are kept. `submitted` tracks what the server has acknowledged.
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
    appendFileSync(this.current, JSON.stringify(receipt) + '\n');
    if (this.lines(this.current).length >= this.limits.perFile) this.rotate();
  }

  private rotate(): void {
    renameSync(this.current, join(this.dir, `${Date.now()}-${process.pid}.jsonl`));
    const old = this.archived();
    for (const file of old.slice(0, Math.max(0, old.length - this.limits.files))) rmSync(join(this.dir, file));
  }

  private archived(): string[] {
    return readdirSync(this.dir).filter((f) => /^\d+-\d+\.jsonl$/.test(f)).sort();
  }

  private lines(file: string): string[] {
    return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }

  /** Every receipt kept, oldest first. */
  all(): Receipt[] {
    return [...this.archived().map((f) => join(this.dir, f)), this.current].flatMap((f) => this.lines(f).map((l) => JSON.parse(l) as Receipt));
  }

  /** Receipts not yet acknowledged by the server. */
  unsubmitted(): Receipt[] {
    const done = new Set(this.lines(join(this.dir, 'submitted')));
    return this.all().filter((r) => !done.has(key(r)));
  }

  markSubmitted(receipts: readonly Receipt[]): void {
    const file = join(this.dir, 'submitted');
    const keep = new Set(this.all().map(key));
    const done = [...this.lines(file).filter((k) => keep.has(k)), ...receipts.map(key)];
    writeFileAtomic(file, done.join('\n') + '\n');
  }
}

const key = (r: Receipt): string => `${(r.document.signed as { version?: number } | undefined)?.version}@${r.received_at}`;
