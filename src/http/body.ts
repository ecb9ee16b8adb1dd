import type { Context } from 'hono';
import { FairpatchError } from '../errors.js';
import { parseJson } from '../common/canonical.js';

/**
 * Reads a JSON body from a hostile client: media type checked, size capped while streaming
 * (a missing or lying Content-Length does not help), parse errors become JSON_INVALID.
 */
export async function readJson(c: Context, maxBytes: number): Promise<unknown> {
  return parseJson(await readJsonText(c, maxBytes));
}

/** `readJson` without the parse: the body's text, for a reader that parses it elsewhere (a worker). */
export async function readJsonText(c: Context, maxBytes: number): Promise<string> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/json\b/i.test(type))
    throw new FairpatchError('UNSUPPORTED_MEDIA_TYPE', 'expected Content-Type: application/json');
  const text = await readBodyText(c, maxBytes);
  if (text === '') throw new FairpatchError('JSON_INVALID', 'body is empty');
  return text;
}

/**
 * A request body as UTF-8 text, refused (413) once it passes `maxBytes`: a declared length over it
 * unread, a chunked or lying one as soon as the bytes received pass it. Empty when there is none.
 */
export async function readBodyText(c: Context, maxBytes: number): Promise<string> {
  const declared = Number(c.req.header('content-length') ?? 0);
  if (declared > maxBytes)
    throw new FairpatchError('PAYLOAD_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
  const body = c.req.raw.body;
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > maxBytes)
        throw new FairpatchError('PAYLOAD_TOO_LARGE', `body exceeds ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (error) {
    throw cutShort(c, error);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A body stream that fails because the client went away (it closed the connection, or the server's
 * request timeout closed it) is the client's doing, not an internal error: a 400, not a logged 500.
 */
export function cutShort(c: Context, error: unknown): unknown {
  if (error instanceof FairpatchError || !c.req.raw.signal.aborted) return error;
  return new FairpatchError(
    'BAD_REQUEST',
    'the request body ended early: the connection closed or the request timed out',
    { cause: error },
  );
}
