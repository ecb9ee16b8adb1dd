import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { type SignedObservation, signObservation } from '../../src/common/observation.js';
import { generateRepositoryKeys } from '../../src/keys/keygen.js';
import { createNode } from '../../src/server/node.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import type { Envelope, RootSigned } from '../../src/tuf/metadata.js';
import { sha256Hex } from '../../src/tuf/metadata.js';
import { parseRoot } from '../../src/tuf/schema.js';
import { generateWitnessKey, readWitnessKey } from '../../src/witness/key.js';
import { createWitness } from '../../src/witness/node.js';
import { NO_RATE_LIMITS } from '../lib/limits.js';
import { benchFile } from '../lib/sections.js';

// `npm run bench -- intake`: signed receipts per second through the two intakes, the repository node's
// `POST /api/v1/receipts` and a witness's `POST /receipts`, each on SQLite, in-process (Hono's
// app.request: no sockets, so this measures verification, logging and storage). 2,000 agents, each
// receipt a run over one of ten timestamp documents, batches of 500 as agents send them.

interface Rate {
  /** Receipts per second of wall time. */
  wall: number;
  /** Receipts per CPU-second of the process. */
  cpu: number;
}
interface Result {
  node: Rate;
  witness: Rate;
  /** CONCURRENT requests at once (absent in runs of older versions of this bench). */
  nodeConcurrent?: Rate;
  witnessConcurrent?: Rate;
}

const RECEIPTS = 20_000;
const AGENTS = 2_000;
const BATCH = 500;
const CONCURRENT = 4;
const ROUNDS = Number(process.env.INTAKE_ROUNDS ?? 3);
const n = (x: number) => Math.round(x).toLocaleString('en');

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-intake-'));
  const keysDir = join(dir, 'keys');
  generateRepositoryKeys({ dir: keysDir, now: Date.now() });
  const node = await createNode({
    dataDir: join(dir, 'node'),
    keysDir,
    ...NO_RATE_LIMITS,
  });
  const root = parseRoot(
    JSON.parse(readFileSync(join(keysDir, '1.root.json'), 'utf8')),
  ) as Envelope<RootSigned>;
  generateWitnessKey(join(dir, 'w.key'), 'bench-witness');
  const witness = await createWitness({
    dataDir: join(dir, 'witness'),
    key: readWitnessKey(join(dir, 'w.key')),
    root,
    perAddress: { perSecond: 1e9, burst: 1e9 },
    perKeyPerMinute: 1e9,
    unvouchedReceiptsPerMinute: 1e9,
    clientBytesPerMinute: 1e12,
  });
  try {
    const k = node.repo.currentTick();
    const documents = Array.from(
      { length: 10 },
      (_, i) => JSON.parse(node.repo.view.timestampAt(k + i).toString()) as Record<string, unknown>,
    );
    const digests = documents.map((d) => sha256Hex(canonicalBytes(d)));
    const agents = Array.from({ length: AGENTS }, () => {
      const seed = randomBytes(32);
      return { seed, key: ed25519PublicKey(seed).toString('hex') };
    });
    const at = new Date().toISOString();
    // A fresh set of receipts per run (`set` changes what is signed): a repeated receipt is a replay.
    // Bodies as bytes, as they come off a socket (a string body would be converted on every request).
    const makeBatches = (set: number): Buffer[] => {
      // Signed agent by agent (a signer keeps its parsed key), laid out round-robin as fleets send them.
      const order = Array.from(
        { length: RECEIPTS },
        (_, j) => (j % (RECEIPTS / AGENTS)) * AGENTS + Math.floor(j / (RECEIPTS / AGENTS)),
      );
      const signed = order.map((i) => {
        const agent = agents[i % AGENTS]!;
        return signObservation(
          {
            v: 1,
            agent: agent.key,
            group: `g${i % 50}`,
            document: digests[i % 10]!,
            first_at: at,
            last_at: at,
            polls: 1 + (i % 7),
            via: '/g/x',
            lag_ms: (i % 1000) + set * 1000,
          },
          agent.seed,
        );
      });
      const receipts: SignedObservation[] = Array.from<SignedObservation>({ length: RECEIPTS });
      for (const [j, i] of order.entries()) receipts[i] = signed[j]!;
      return Array.from({ length: RECEIPTS / BATCH }, (_, b) => {
        const slice = receipts.slice(b * BATCH, (b + 1) * BATCH);
        return Buffer.from(
          JSON.stringify({
            documents: Object.fromEntries(
              slice.map((r) => [
                r.observation.document,
                documents[digests.indexOf(r.observation.document)],
              ]),
            ),
            receipts: slice,
          }),
        );
      });
    };

    // Receipts per second of wall time, and per CPU-second of this process (every thread: the
    // signatures are checked on the thread pool), which the other load on a shared machine moves less.
    // `concurrency` requests in flight at once, as many agents send at once.
    const run = async (
      name: string,
      post: (body: Uint8Array) => Promise<Response>,
      batches: readonly Uint8Array[],
      concurrency: number,
    ): Promise<Rate> => {
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      let next = 0;
      const client = async () => {
        while (next < batches.length) {
          const response = await post(batches[next++]!);
          if (response.status >= 300)
            throw new Error(`${name}: HTTP ${response.status} ${await response.text()}`);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, client));
      const cpu = process.cpuUsage(cpu0);
      return {
        wall: RECEIPTS / ((performance.now() - t0) / 1000),
        cpu: RECEIPTS / ((cpu.user + cpu.system) / 1e6),
      };
    };
    const json = { method: 'POST', headers: { 'content-type': 'application/json' } } as const;
    const toNode = (body: Uint8Array) =>
      Promise.resolve(node.app.request('/api/v1/receipts', { ...json, body }));
    const toWitness = (body: Uint8Array) =>
      Promise.resolve(witness.app.request('/receipts', { ...json, body }));
    // ROUNDS rounds of the four runs, interleaved, each on fresh receipts: this shared machine moves
    // a single run by ±15 %, so each figure is the median round, with the range beside it.
    const rounds: Result[] = [];
    for (let r = 0; r < ROUNDS; r++)
      rounds.push({
        node: await run('server', toNode, makeBatches(4 * r), 1),
        witness: await run('witness', toWitness, makeBatches(4 * r + 1), 1),
        nodeConcurrent: await run('server', toNode, makeBatches(4 * r + 2), CONCURRENT),
        witnessConcurrent: await run('witness', toWitness, makeBatches(4 * r + 3), CONCURRENT),
      });
    const median = (k: keyof Result): Rate => {
      const rates = rounds.map((x) => x[k]!);
      const mid = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      return { wall: mid(rates.map((x) => x.wall)), cpu: mid(rates.map((x) => x.cpu)) };
    };
    const range = (k: keyof Result): string => {
      const walls = rounds.map((x) => x[k]!.wall);
      return `${n(Math.min(...walls))}–${n(Math.max(...walls))}`;
    };
    const result: Result = {
      node: median('node'),
      witness: median('witness'),
      nodeConcurrent: median('nodeConcurrent'),
      witnessConcurrent: median('witnessConcurrent'),
    };
    // INTAKE_BASELINE: a JSON file of an earlier run of this bench (its RESULT line, plus a `label`
    // saying which commit), measured on the same machine, right before or after: ratios against it.
    const baseline = process.env.INTAKE_BASELINE
      ? (JSON.parse(readFileSync(process.env.INTAKE_BASELINE, 'utf8')) as Result & {
          label: string;
        })
      : undefined;
    const row = (what: string, k: keyof Result) => {
      const now = result[k]!;
      const before = baseline?.[k];
      return before
        ? `| ${what} | ${n(before.wall)} | ${n(now.wall)} (${range(k)}) | ${(now.wall / before.wall).toFixed(2)}× | ${n(before.cpu)} | ${n(now.cpu)} | ${(now.cpu / before.cpu).toFixed(2)}× |`
        : `| ${what} | ${n(now.wall)} (${range(k)}) | ${n(now.cpu)} |`;
    };
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(', ');
    const lines = [
      '# Receipt intake',
      '',
      `- command: \`npm run bench -- intake\`${baseline ? ` (INTAKE_BASELINE: ${baseline.label})` : ''}`,
      `- date: ${new Date().toISOString()}; node ${process.version}; ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; load average at the end ${load}`,
      `- ${RECEIPTS.toLocaleString('en')} agent-signed receipts from ${AGENTS.toLocaleString('en')} agents over 10 timestamp documents, batches of ${BATCH}, SQLite, in-process requests (no sockets): every agent signature verified (node:crypto Ed25519), every document once, each batch logged`,
      `- receipts/s: over wall time, the median of ${ROUNDS} rounds (the rounds' range in brackets); per CPU-second: over the CPU time of the whole process (all threads), the median of the rounds, which other load on the machine moves less`,
      '',
      ...(baseline
        ? [
            `| intake | receipts/s before | receipts/s | ratio | per CPU-second before | per CPU-second | ratio |`,
            '|---|---|---|---|---|---|---|',
          ]
        : ['| intake | receipts/s | receipts per CPU-second |', '|---|---|---|']),
      row('repository node, `POST /api/v1/receipts` (one leaf per batch)', 'node'),
      row(
        'witness, `POST /receipts` (one leaf per receipt, inclusion proof in the answer)',
        'witness',
      ),
      row(`repository node, ${CONCURRENT} requests at once`, 'nodeConcurrent'),
      row(`witness, ${CONCURRENT} requests at once`, 'witnessConcurrent'),
      '',
    ];
    // The written analysis below the table ("## Where the time goes") is kept across runs.
    const file = benchFile('INTAKE.md');
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const notes = previous.indexOf('\n## Where the time goes');
    writeFileSync(file, lines.join('\n') + (notes >= 0 ? previous.slice(notes) : ''));
    console.log(lines.join('\n'));
    console.log(`RESULT ${JSON.stringify(result)}`);
  } finally {
    await witness.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
