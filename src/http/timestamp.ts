import type { Repository } from '../release/repository.js';
import { etagOf, timestampHeaders } from './caching.js';

export interface RenderedPoll {
  bytes: Buffer;
  headers: Record<string, string>;
}

const rendered = new WeakMap<Repository, RenderedPoll>();

/**
 * timestamp.json of tick k with every header it is sent with, built once per rendered document
 * (the view memoizes the bytes): both the fast poll path and the Hono route send exactly these.
 * The headers stay in this order on the wire (see timestampHeaders).
 */
export function timestampDocument(repo: Repository, k: number): RenderedPoll {
  const bytes = repo.view.timestampAt(k);
  let poll = rendered.get(repo);
  if (poll?.bytes !== bytes) {
    poll = { bytes, headers: { ...timestampHeaders(repo.config, k), 'Content-Type': 'application/json', ETag: etagOf(bytes), 'Content-Length': String(bytes.length) } };
    rendered.set(repo, poll);
  }
  return poll;
}
