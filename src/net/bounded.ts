import { AnswerTooLargeError } from './errors.js';

/**
 * A response body as text, refused once it passes `maxBytes`: what a hostile server sends is read
 * no further than what the caller can use (a declared length over the limit is refused unread).
 */
export async function textAtMost(response: Response, maxBytes: number): Promise<string> {
  return (await bytesAtMost(response, maxBytes)).toString('utf8');
}

/** A response body as bytes, refused once it passes `maxBytes` (as textAtMost). */
export async function bytesAtMost(response: Response, maxBytes: number): Promise<Buffer> {
  const tooLarge = () => new AnswerTooLargeError(maxBytes);
  if (Number(response.headers.get('content-length') ?? 0) > maxBytes) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Leaving the loop (the throw) cancels the stream: its iterator holds the lock, so no cancel() here.
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
