import { parseCheckpoint } from '../log/checkpoint.js';
import type { LogStore } from '../log/store.js';
import { reach } from '../net/unreachable.js';

/**
 * The log's side of C2SP tlog-witness (https://c2sp.org/tlog-witness): after each new checkpoint it
 * asks every configured witness to cosign it, proving consistency from the size that witness last
 * cosigned (learnt from a 409 `text/x.tlog.size` answer, starting from 0), and adds the cosignature
 * lines to the stored checkpoint note, which `/log/checkpoint` then serves. A witness that refuses or
 * is away is retried with the next checkpoint; the log never waits for one.
 */
export class Cosigning {
  private readonly cosigned = new Map<string, number>();
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly log: LogStore,
    private readonly witnesses: readonly string[],
    private readonly report: (line: string) => void = (line) => console.error(line),
  ) {}

  /** Asks for cosignatures of the latest checkpoint now, or right after the round in progress. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.round();
      } while (this.again);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async round(): Promise<void> {
    const note = await this.log.checkpoint();
    if (!note) return;
    const { size } = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
    for (const url of this.witnesses) {
      if (this.cosigned.get(url) === size) continue;
      try {
        const lines = await this.ask(url, note, size);
        if (lines) {
          await this.log.addCosignatures(size, lines);
          this.cosigned.set(url, size);
        }
      } catch (error) {
        this.report(
          `witness ${url} did not cosign checkpoint ${size}: ${(error as Error).message}`,
        );
      }
    }
  }

  /** One add-checkpoint exchange, retried once with the size a 409 names. */
  private async ask(url: string, note: string, size: number): Promise<string | undefined> {
    let old = this.cosigned.get(url) ?? 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (old > size)
        throw new Error(`the witness holds size ${old}, larger than this log's ${size}`);
      const proof = old > 0 && old < size ? await this.log.consistencyProof(old, size) : [];
      const body = `old ${old}\n${proof.map((p) => `${Buffer.from(p).toString('base64')}\n`).join('')}\n${note}`;
      const response = await reach(new URL('/add-checkpoint', url), {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain' },
        timeoutMs: 10_000,
      });
      const text = await response.text();
      if (response.status === 200) return text;
      if (
        response.status === 409 &&
        (response.headers.get('content-type') ?? '').startsWith('text/x.tlog.size') &&
        /^\d+\n$/.test(text)
      ) {
        old = Number(text.trim());
        this.cosigned.set(url, old);
        if (old === size) return undefined; // cosigned already (by another node of this log)
        continue;
      }
      throw new Error(`HTTP ${response.status} ${text.slice(0, 300)}`);
    }
    return undefined;
  }
}
