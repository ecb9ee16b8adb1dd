import { httpFailure } from '../net/errors.js';
import { sleep } from './sleep.js';

export interface ServerEvent {
  event: string;
  data: string;
  id?: string;
}

export interface SubscribeOptions {
  /** Called for every event; `activation` is the one that matters. */
  onEvent: (event: ServerEvent) => void;
  /** Called with true when connected, false when the stream is down. */
  onState?: (up: boolean) => void;
  signal: AbortSignal;
  /** Reconnect backoff: starts at the server's `retry:` hint (or 1 s), doubles to maxBackoffMs, with jitter. */
  maxBackoffMs?: number;
  /** No bytes for this long means a dead stream (heartbeats arrive every 15 s). Default 45 s. */
  silenceMs?: number;
}

/** Parses an SSE byte stream (WHATWG HTML 9.2.6) into events; comments and unknown fields are skipped. */
export async function* parseSse(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<ServerEvent & { retry?: number }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { event: string; data: string[]; id?: string; retry?: number } = {
    event: 'message',
    data: [],
  };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (
      let newline = buffer.search(/\r\n|\r|\n/);
      newline >= 0;
      newline = buffer.search(/\r\n|\r|\n/)
    ) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (current.data.length > 0 || current.retry !== undefined) {
          yield {
            event: current.event,
            data: current.data.join('\n'),
            ...(current.id !== undefined ? { id: current.id } : {}),
            ...(current.retry !== undefined ? { retry: current.retry } : {}),
          };
        }
        current = { event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') current.event = value;
      else if (field === 'data') current.data.push(value);
      else if (field === 'id') current.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) current.retry = Number(value);
    }
  }
}

/**
 * Holds the server's event stream while `signal` lives: reconnects with backoff and jitter, treats
 * silence as a dead stream. Events carry no authority; the caller refreshes through TUF.
 */
export async function subscribe(url: string, options: SubscribeOptions): Promise<void> {
  const { signal } = options;
  let backoff = 1000;
  while (!signal.aborted) {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener('abort', abort, { once: true });
    let silence: NodeJS.Timeout | undefined;
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(abort, options.silenceMs ?? 45_000);
      silence.unref();
    };
    try {
      const response = await fetch(url, {
        headers: { accept: 'text/event-stream' },
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw httpFailure(url, response.status);
      options.onState?.(true);
      alive();
      for await (const event of parseSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
        alive();
        if (event.retry !== undefined) backoff = event.retry;
        if (event.event !== 'message' || event.data) options.onEvent(event);
      }
    } catch {
      // fall through to reconnect
    } finally {
      clearTimeout(silence);
      signal.removeEventListener('abort', abort);
      options.onState?.(false);
    }
    if (signal.aborted) return;
    const wait = backoff * (0.5 + Math.random());
    backoff = Math.min(options.maxBackoffMs ?? 60_000, backoff * 2);
    await sleep(wait, signal);
  }
}
