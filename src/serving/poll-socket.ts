import type { Socket } from 'node:net';
import type { RenderedPoll } from './timestamp.js';

/**
 * The poll answered on the socket, before node:http parses anything.
 *
 * A node's traffic is nearly all one request — a plain GET of timestamp.json — whose answer is the
 * same bytes for every poll of a tick. Parsing it with node:http, building request and response
 * objects and serializing headers costs more than half the CPU of a poll, which is what kept a node
 * behind nginx serving the same bytes as a static file. So a connection starts here: every complete
 * request in what has arrived is read with a deliberately narrow grammar, and each that is a plain
 * poll is answered with one write of pre-assembled bytes.
 *
 * Anything else hands the connection to node:http for good, with every byte not yet answered put back
 * in front of the stream: another method or path, a request split across reads, a body, a
 * conditional or range request, an upgrade, HTTP/1.0, obsolete line folding, a bare CR or LF, a
 * missing or repeated Host, or anything the app should refuse (`answer` returns undefined). Only
 * requests whose framing no reader could take differently (RFC 9112 §6.3: no Content-Length, no
 * Transfer-Encoding, so no body) are answered here, so there is nothing to smuggle between this
 * reader and node:http's; node:http keeps every deadline and limit it enforces for the rest.
 */

/** node:http's default limit on a request's header section; anything larger is its to refuse. */
const MAX_HEAD_BYTES = 16 * 1024;
const END_OF_HEAD = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^GET (\/[!-~]*) HTTP\/1\.1$/;
/** RFC 9110 §5.1 token, `:`, then visible characters, spaces and tabs (§5.5); no CR or LF. */
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([!-~\x80-\xff \t]*)$/;
/** Fields after which this reader could answer differently from the app: the app answers. */
const LEAVE_TO_APP = new Set([
  'content-length',
  'transfer-encoding',
  'expect',
  'upgrade',
  'range',
  'if-range',
  'if-none-match',
  'if-match',
  'if-modified-since',
  'if-unmodified-since',
]);

interface PlainGet {
  target: string;
  close: boolean;
}

/** The request in `head` (its header section, CRLFs and all, without the final blank line), if it is a plain GET. */
function plainGet(head: string): PlainGet | undefined {
  const lines = head.split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line) return undefined;
  let hosts = 0;
  let close = false;
  for (let i = 1; i < lines.length; i++) {
    const field = FIELD_LINE.exec(lines[i]!);
    if (!field) return undefined; // obs-fold, a bare CR or LF, a malformed name, a control byte
    const name = field[1]!.toLowerCase();
    if (LEAVE_TO_APP.has(name)) return undefined;
    if (name === 'host') hosts++;
    else if (name === 'connection') {
      const options = field[2]!.toLowerCase().split(',');
      if (options.some((o) => o.trim() === 'upgrade')) return undefined;
      if (options.some((o) => o.trim() === 'close')) close = true;
    }
  }
  return hosts === 1 ? { target: line[1]!, close } : undefined;
}

/** Status line, the document's headers in order, then what node:http adds, then the body. */
function wireBytes(poll: RenderedPoll, date: string, close: boolean, keepAliveS: number): Buffer {
  let head = 'HTTP/1.1 200 OK\r\n';
  for (const [name, value] of Object.entries(poll.headers)) head += `${name}: ${value}\r\n`;
  head += `Date: ${date}\r\n`;
  head += close
    ? 'Connection: close\r\n\r\n'
    : `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveS}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), poll.bytes]);
}

export interface PollSocketOptions {
  /** The document for a plain GET of `target` on `socket`, counted; undefined leaves it to the app. */
  answer: (target: string, socket: Socket) => RenderedPoll | undefined;
  /** Gives node:http the connection, `pending` (bytes not answered) first. */
  handOff: (socket: Socket, pending: Buffer) => void;
  /** An idle connection held here is closed after this long (node:http's keepAliveTimeout). */
  keepAliveTimeoutMs: number;
  now?: () => number;
}

/** Sockets being served here, so a closing server can end them (node:http only knows its own). */
export interface PollSockets {
  accept(socket: Socket): void;
  /** Ends every connection held here: none has a request in progress (answers are written whole). */
  closeIdle(): void;
}

export function pollSockets(options: PollSocketOptions): PollSockets {
  const now = options.now ?? Date.now;
  /** Each connection held here, and what lets go of it. */
  const held = new Map<Socket, () => void>();
  const keepAliveS = Math.floor(options.keepAliveTimeoutMs / 1000);
  // The wire bytes of the current document, rebuilt when the document or the Date second changes.
  let cached: { poll: RenderedPoll; second: number; keep: Buffer; close: Buffer } | undefined;
  const bytesFor = (poll: RenderedPoll, close: boolean): Buffer => {
    const second = Math.floor(now() / 1000);
    if (cached?.poll !== poll || cached.second !== second) {
      const date = new Date(second * 1000).toUTCString();
      cached = {
        poll,
        second,
        keep: wireBytes(poll, date, false, keepAliveS),
        close: wireBytes(poll, date, true, keepAliveS),
      };
    }
    return close ? cached.close : cached.keep;
  };

  return {
    accept(socket) {
      socket.setNoDelay(true);
      socket.setTimeout(options.keepAliveTimeoutMs, () => socket.destroy());
      // A reset, while held here or while closing: 'close' follows and tidies up. Removed only when
      // node:http takes the socket, which listens for errors itself.
      const ignore = () => {};
      const release = () => {
        held.delete(socket);
        socket.removeListener('data', onData);
        socket.setTimeout(0);
      };
      // Answers every complete request in `chunk` from `at`; stops at the first that is not a plain
      // poll (hand-off) or when the socket's buffer is full (the rest waits for 'drain').
      const serve = (chunk: Buffer, from: number): void => {
        let at = from;
        while (at < chunk.length) {
          const end = chunk.indexOf(END_OF_HEAD, at);
          const request =
            end < 0 || end - at > MAX_HEAD_BYTES
              ? undefined
              : plainGet(chunk.toString('latin1', at, end));
          // Bytes after a `Connection: close` request are node:http's to refuse (RFC 9112 §9.6).
          const last = end + END_OF_HEAD.length === chunk.length;
          const poll =
            request && (!request.close || last) && options.answer(request.target, socket);
          if (!poll) {
            release();
            socket.removeListener('error', ignore);
            socket.pause();
            options.handOff(socket, chunk.subarray(at));
            return;
          }
          at = end + END_OF_HEAD.length;
          if (request!.close) {
            release();
            socket.end(bytesFor(poll, true));
            return;
          }
          if (!socket.write(bytesFor(poll, false))) {
            // A client that sends without reading is read no further until it reads.
            socket.pause();
            socket.once('drain', () => {
              if (!held.has(socket)) return; // closed meanwhile: nothing more is answered
              if (at < chunk.length) serve(chunk, at);
              if (held.has(socket) && !socket.writableNeedDrain) socket.resume();
            });
            return;
          }
        }
      };
      const onData = (chunk: Buffer): void => serve(chunk, 0);
      held.set(socket, release);
      socket.on('data', onData);
      socket.on('error', ignore);
      socket.once('close', () => held.delete(socket));
    },
    closeIdle() {
      // Let go first: a request that arrives after the FIN is not answered, so not counted either.
      for (const [socket, release] of held) {
        release();
        socket.end();
      }
    },
  };
}
