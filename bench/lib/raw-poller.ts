import { type Socket, connect } from 'node:net';

export interface RawAnswer {
  status: number;
  body: Buffer;
}

/**
 * One keep-alive connection that sends a fixed GET and reads its answer, with no HTTP client in
 * between: a poll costs the poller a write and a read, so what a measurement sees is the server and
 * the machine, not fetch's own per-request work (which, with a dozen loops in one process, was most
 * of the switch benchmark's delay). It reads only what the servers measured here send: a status
 * line, headers with Content-Length, the body.
 */
export class RawPoller {
  private socket?: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (a: RawAnswer) => void; reject: (e: Error) => void };
  private readonly request: Buffer;

  constructor(
    private readonly url: URL,
    path: string,
  ) {
    this.request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, 'latin1');
  }

  private open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(this.url.port), this.url.hostname, () => resolve(socket));
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => {
        this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
        this.parse();
      });
      const fail = (error: Error) => {
        this.socket = undefined;
        this.waiting?.reject(error);
        this.waiting = undefined;
        reject(error);
      };
      socket.on('error', fail);
      socket.on('close', () => fail(new Error('connection closed')));
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buffer.toString('latin1', 0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting.resolve({ status: Number(head.slice(9, 12)), body });
  }

  async get(): Promise<RawAnswer> {
    this.socket ??= await this.open();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket!.write(this.request);
    });
  }

  close(): void {
    this.socket?.removeAllListeners('close');
    this.socket?.destroy();
    this.socket = undefined;
  }
}
