import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BaseFetcher } from 'tuf-js';
import { DownloadHTTPError, DownloadLengthMismatchError } from 'tuf-js/dist/error.js';
import { explainFetchFailure } from '../net/unreachable.js';

export interface FetcherOptions {
  /** Per-request timeout. Default 15 s. */
  timeoutMs?: number;
  /** Attempts per request, the first included. Default 4. */
  attempts?: number;
  /** First backoff; doubles each attempt, with full jitter, capped at maxBackoffMs. Default 500 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Where interrupted artifact downloads are kept to resume with a Range request. */
  partialDir?: string;
  userAgent?: string;
  onProgress?: (url: string, received: number, total: number) => void;
  /** Injected for tests; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry-After in seconds or as an HTTP date (RFC 9110 10.2.3), bounded to a minute. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = /^\d+$/.test(header.trim()) ? Number(header) * 1000 : Date.parse(header) - now;
  return Number.isFinite(seconds) ? Math.min(60_000, Math.max(0, seconds)) : undefined;
}

/**
 * The agent's network edge for tuf-js (which stays the TUF engine): timeouts, retries with
 * exponential backoff and full jitter, Retry-After, and resumable artifact downloads. TUF checks
 * (lengths, hashes, signatures) are tuf-js's; this class only moves bytes.
 */
export class AgentFetcher extends BaseFetcher {
  private readonly o: Required<Omit<FetcherOptions, 'partialDir' | 'onProgress' | 'userAgent'>> &
    FetcherOptions;

  constructor(options: FetcherOptions = {}) {
    super();
    this.o = {
      timeoutMs: 15_000,
      attempts: 4,
      backoffMs: 500,
      maxBackoffMs: 30_000,
      sleep: wait,
      ...options,
    };
  }

  private async retrying<T>(what: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await what(attempt);
      } catch (error) {
        const retryable = !(error instanceof DownloadHTTPError) || RETRYABLE.has(error.statusCode);
        if (
          !retryable ||
          error instanceof DownloadLengthMismatchError ||
          attempt >= this.o.attempts
        )
          throw error;
        const hinted = (error as { retryAfterMs?: number }).retryAfterMs;
        const backoff =
          Math.random() * Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (attempt - 1));
        await this.o.sleep(hinted ?? backoff);
      }
    }
  }

  private async request(url: string, headers: Record<string, string> = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { 'user-agent': this.o.userAgent ?? 'fairpatch-agent', ...headers },
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (cause) {
      throw explainFetchFailure(url, cause, this.o.timeoutMs);
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel();
      const error = new DownloadHTTPError(
        `HTTP ${response.status} for ${url}`,
        response.status,
      ) as DownloadHTTPError & { retryAfterMs?: number; url?: string };
      error.url = url; // named in the agent's coded refusal (src/agent/threats.ts)
      const hinted = retryAfterMs(response.headers.get('retry-after'));
      if (hinted !== undefined) error.retryAfterMs = hinted;
      throw error;
    }
    return response;
  }

  override async fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    return this.retrying(
      async () => (await this.request(url)).body as ReadableStream<Uint8Array<ArrayBuffer>>,
    );
  }

  /** Artifacts (immutable, content-addressed) resume where an interrupted download stopped. */
  override async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
  ): Promise<T> {
    if (!this.o.partialDir || !url.includes('/targets/'))
      return super.downloadFile(url, maxLength, handler);
    mkdirSync(this.o.partialDir, { recursive: true });
    const partial = join(this.o.partialDir, createHash('sha256').update(url).digest('hex'));
    await this.retrying(async () => {
      const have = existsSync(partial) ? statSync(partial).size : 0;
      if (have > maxLength) rmSync(partial);
      const response = await this.request(
        url,
        have > 0 && have <= maxLength ? { range: `bytes=${have}-` } : {},
      );
      const resumed =
        response.status === 206 &&
        (response.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
      let received = resumed ? have : 0;
      const out = createWriteStream(partial, { flags: resumed ? 'a' : 'w' });
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.length;
          if (received > maxLength)
            throw new DownloadLengthMismatchError(
              `endless data: ${url} exceeds ${maxLength} bytes`,
            );
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
          this.o.onProgress?.(url, received, maxLength);
        }
      } finally {
        await new Promise<void>((resolve) => out.end(resolve));
      }
    });
    try {
      return await handler(partial);
    } finally {
      rmSync(partial, { force: true });
    }
  }
}
