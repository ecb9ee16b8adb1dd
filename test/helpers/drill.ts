import { createHash } from 'node:crypto';
import { startServer } from './cli.js';
import type { StartedProcess } from './process.js';
import { until } from './until.js';

/**
 * Drills (test/drills): operator procedures run as an operator runs them, real processes stopped with
 * SIGTERM and started again. Each prints its wall time and, after a restart, how long until the node
 * answered its first poll: the figures docs/production.md quotes.
 */
export function report(line: string): void {
  console.log(`drill: ${line}`);
}

/** One `fairpatch serve` process and the arguments to start it again with. */
export class DrillNode {
  private constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    public process: StartedProcess,
  ) {}

  static async start(
    name: string,
    args: string[],
    env: Record<string, string>,
  ): Promise<DrillNode> {
    return new DrillNode(name, args, env, await startServer(args, { env }));
  }

  get url(): string {
    return this.process.url;
  }

  /**
   * SIGTERM, then the same command again; resolves with the milliseconds from the new process's
   * spawn to its first answered poll. A start that fails rejects with what the process printed.
   */
  async restart(): Promise<number> {
    await this.process.stop();
    const spawnedAt = performance.now();
    this.process = await startServer(this.args, { env: this.env });
    await until(
      `${this.name}'s first poll`,
      async () => ((await fetch(`${this.url}/metadata/timestamp.json`)).ok ? true : undefined),
      { timeoutMs: 10_000, everyMs: 5 },
    );
    return performance.now() - spawnedAt;
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function get(url: string): Promise<{ status: number; bytes: Buffer }> {
  const response = await fetch(url);
  return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
}

interface Timestamp {
  signed: { version: number; meta: Record<string, { version: number }> };
  signatures: Array<{ keyid: string }>;
}

/** The tick a node is serving (its timestamp's version). */
export async function servedTick(url: string): Promise<number> {
  const { bytes } = await get(`${url}/metadata/timestamp.json`);
  return (JSON.parse(bytes.toString()) as Timestamp).signed.version;
}

/** Waits until every node serves `ticks` ticks past the one the first serves now (past a change's tick). */
export async function waitTicks(urls: readonly string[], ticks: number): Promise<void> {
  const target = (await servedTick(urls[0]!)) + ticks;
  for (const url of urls)
    await until(`tick ${target} at ${url}`, async () =>
      (await servedTick(url)) >= target ? true : undefined,
    );
}

/**
 * Everything a node serves that does not change with the tick, each document as its status and
 * sha256: every root, every snapshot version up to the current one, every version of every role the
 * snapshot names, the log's key; and what the current timestamp says (its key, the snapshot it names).
 */
export async function servedDocuments(url: string): Promise<Record<string, string>> {
  const docs: Record<string, string> = {};
  const fetchDoc = async (path: string) => {
    const { status, bytes } = await get(`${url}${path}`);
    docs[path] = status === 200 ? sha256(bytes) : String(status);
    return { status, bytes };
  };
  const ts = JSON.parse(
    (await get(`${url}/metadata/timestamp.json`)).bytes.toString(),
  ) as Timestamp;
  docs['timestamp key'] = ts.signatures.map((s) => s.keyid).join();
  docs['timestamp meta'] = JSON.stringify(ts.signed.meta);
  const snapshotVersion = ts.signed.meta['snapshot.json']!.version;
  let latest: Buffer | undefined;
  for (let v = 1; v <= snapshotVersion; v++)
    latest = (await fetchDoc(`/metadata/${v}.snapshot.json`)).bytes;
  const meta = (
    JSON.parse(latest!.toString()) as { signed: { meta: Record<string, { version: number }> } }
  ).signed.meta;
  for (const [file, { version }] of Object.entries(meta))
    for (let v = 1; v <= version; v++) await fetchDoc(`/metadata/${v}.${file}`);
  for (let v = 1; (await fetchDoc(`/metadata/${v}.root.json`)).status === 200; v++);
  await fetchDoc('/log/key');
  return docs;
}

/** Polls every node until they serve one tick, and returns each node's bytes of that tick. */
export async function sameTickBytes(urls: readonly string[]): Promise<Buffer[]> {
  return until(
    'one tick served by every node',
    async () => {
      const polls = await Promise.all(urls.map((u) => get(`${u}/metadata/timestamp.json`)));
      const ticks = polls.map((p) => (JSON.parse(p.bytes.toString()) as Timestamp).signed.version);
      return ticks.every((t) => t === ticks[0]) ? polls.map((p) => p.bytes) : undefined;
    },
    { timeoutMs: 10_000, everyMs: 20 },
  );
}

export { freePort } from '../../bench/lib/free-port.js';
