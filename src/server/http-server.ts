import {
  type RequestListener,
  type ServerOptions,
  type Server as HttpServer,
  STATUS_CODES,
  createServer,
} from 'node:http';
import type { Socket } from 'node:net';
import { type HttpBindings, serve } from '@hono/node-server';
import { type PollDeps, answerPoll, fastPoll } from '../serving/fast-poll.js';
import { pollSockets } from '../serving/poll-socket.js';
import { NODE_DEFAULTS } from './config.js';
import { type ErrorCode, ERROR_STATUS } from '../errors.js';
import {
  TRUST_NO_PROXY,
  type TrustProxy,
  isTrustedProxy,
  normalizeAddress,
} from '../http/client-address.js';

export interface HttpServerOptions {
  port: number;
  hostname: string;
  /** Longest time to receive one whole request, headers and body (node:http `requestTimeout`). */
  requestTimeoutMs: number;
  /** Longest time to receive a request's headers (node:http `headersTimeout`); at most requestTimeoutMs. */
  headersTimeoutMs: number;
  /** Open connections one client address may hold; trusted proxies are not capped. */
  maxConnectionsPerAddress: number;
  trustProxy: TrustProxy;
  /** Answers plain polls of timestamp.json before the app does (see poll-socket.ts and fast-poll.ts). */
  poll?: PollDeps;
}

/** The node's defaults for these (src/server/config.ts). */
export const DEFAULT_HTTP_OPTIONS = {
  requestTimeoutMs: NODE_DEFAULTS.requestTimeoutMs,
  headersTimeoutMs: NODE_DEFAULTS.headersTimeoutMs,
  maxConnectionsPerAddress: NODE_DEFAULTS.maxConnectionsPerAddress,
} as const;

/** An over-cap connection that sends no request is closed after this long. */
const OVER_CAP_GRACE_MS = 2000;

/** A whole HTTP/1.1 response in the API's error format, for the socket-level refusals node:http makes. */
function rawError(code: ErrorCode, message: string): string {
  const body = JSON.stringify({ error: { code, message } });
  const headers = {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  return `HTTP/1.1 ${ERROR_STATUS[code]} ${STATUS_CODES[ERROR_STATUS[code]] ?? 'Error'}\r\n${Object.entries(
    headers,
  )
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n${body}`;
}

/** What node:http reports on a socket, as a refusal the client can act on. */
function clientErrorResponse(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return rawError('REQUEST_TIMEOUT', 'the request (headers and body) was not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return rawError('HEADERS_TOO_LARGE', 'request headers are too large');
    default:
      return rawError('BAD_REQUEST', 'malformed HTTP request');
  }
}

/**
 * The node:http server of a serving node. Slow clients are bounded by node:http's own deadlines: a
 * request's headers must arrive within `headersTimeoutMs` and the whole request within
 * `requestTimeoutMs`, whatever its pace (a body trickled a byte at a time no longer holds a socket for
 * minutes). Each client address may hold `maxConnectionsPerAddress` connections; one more is answered
 * 429 at its first request without reaching the app, and closed. Resolves once listening.
 */
export async function startHttpServer(
  fetch: (request: Request, env: HttpBindings) => Response | Promise<Response>,
  options: HttpServerOptions,
): Promise<HttpServer> {
  const trust = options.trustProxy ?? TRUST_NO_PROXY;
  const overCap = new WeakSet<Socket>();
  const open = new Map<string, number>();
  // Polls are answered on the socket first, then (on connections handed to node:http) before the
  // app; neither answers a connection over its cap, which the app refuses.
  const poll: PollDeps | undefined = options.poll && {
    ...options.poll,
    accept: (socket) => !overCap.has(socket) && (options.poll!.accept?.(socket) ?? true),
  };
  const guarded = (request: Request, bindings: unknown): Response | Promise<Response> => {
    const env = bindings as HttpBindings;
    if (env?.incoming && overCap.has(env.incoming.socket)) {
      const body = JSON.stringify({
        error: {
          code: 'RATE_LIMITED',
          message: `more than ${options.maxConnectionsPerAddress} connections from this address`,
        },
      });
      return new Response(body, {
        status: ERROR_STATUS.RATE_LIMITED,
        headers: { 'Content-Type': 'application/json', 'Retry-After': '5', Connection: 'close' },
      });
    }
    return fetch(request, env);
  };
  // node:http checks its deadlines every connectionsCheckingInterval (30 s by default), so a deadline
  // would be late by up to that much: check a few times per deadline instead.
  const checkEvery = Math.min(
    5000,
    Math.max(100, Math.floor(Math.min(options.headersTimeoutMs, options.requestTimeoutMs) / 4)),
  );
  const server = serve({
    fetch: guarded,
    port: options.port,
    hostname: options.hostname,
    serverOptions: {
      requestTimeout: options.requestTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      connectionsCheckingInterval: checkEvery,
    },
    ...(poll
      ? {
          createServer: ((serverOptions: ServerOptions, listener: RequestListener) =>
            createServer(serverOptions, fastPoll(poll, listener))) as typeof createServer,
        }
      : {}),
  }) as HttpServer;

  server.on('connection', (socket: Socket) => {
    if (isTrustedProxy(trust, socket.remoteAddress)) return;
    const address = normalizeAddress(socket.remoteAddress ?? '') ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
    if (count > options.maxConnectionsPerAddress) {
      overCap.add(socket);
      setTimeout(() => socket.destroy(), OVER_CAP_GRACE_MS).unref();
    }
  });
  if (poll) {
    // Every connection starts on the socket-level poll path; node:http's own connection listener
    // (the documented way to hand it a socket) takes over whatever that path leaves.
    const [toHttp] = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeListener('connection', toHttp!);
    const sockets = pollSockets({
      answer: (target, socket) => answerPoll(poll, target, socket),
      handOff: (socket, pending) => {
        if (pending.length > 0) socket.unshift(pending);
        toHttp!.call(server, socket);
        socket.resume();
      },
      keepAliveTimeoutMs: server.keepAliveTimeout,
    });
    server.on('connection', (socket: Socket) => sockets.accept(socket));
    // server.close() closes idle connections through this method (Node ≥ 19): ours too.
    const closeIdle = server.closeIdleConnections.bind(server);
    server.closeIdleConnections = () => {
      closeIdle();
      sockets.closeIdle();
    };
  }

  // node:http answers a timed-out or malformed request with a bare status line; answer in the API's
  // format instead, when nothing has been written on the socket yet.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    if (error.code !== 'ECONNRESET' && socket.writable && socket.bytesWritten === 0)
      socket.end(clientErrorResponse(error), () => socket.destroy());
    else socket.destroy();
  });

  await new Promise<void>((ready, failed) => {
    server.once('listening', ready);
    server.once('error', failed);
  });
  return server;
}
