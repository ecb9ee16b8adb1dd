import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BenchRepo } from './lib/repo.js';

export interface SwitchResult {
  label: string;
  nodes: Array<{
    node: string;
    lastWithoutReleaseMs: number;
    firstWithReleaseMs: number;
    staleAfterActivation: number;
    lateClientObserved: number;
    responses: number;
    errors: number;
    serverFirstServedMs: number;
    serverLastPreviousMs: number;
    prerendered: boolean | undefined;
  }>;
  distinctDocumentsPerTick: number;
}

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Switch skew across 3 nodes over one database: a release is published through node 1; pollers hit
 * every node in tight keep-alive loops around the activation tick. Per node: time from the tick's
 * start to its first response carrying the release, and responses after the tick without it.
 */
export async function switchBenchmark(
  label: string,
  databaseUrl: string | undefined,
  loopsPerNode = 4,
): Promise<SwitchResult> {
  const repo = new BenchRepo();
  const env = { DATABASE_URL: databaseUrl ?? join(repo.dir, 'shared.sqlite') };
  const nodes = [];
  try {
    for (const name of ['node-1', 'node-2', 'node-3']) nodes.push(await repo.node(name, [], env));
    await repo.addVendor(nodes[0]!.url);
    // The delegation takes effect after the lead time (2 s here).
    await new Promise((r) => setTimeout(r, 3000));
    const releaseAt = Math.ceil((Date.now() + 4000) / 1000) * 1000;
    const staged = await repo.release(nodes[0]!.url, releaseAt);
    const tickStart = Date.parse(staged.activatesAt);
    const before = JSON.parse(
      await (await fetch(`${nodes[0]!.url}/metadata/timestamp.json`)).text(),
    ).signed.meta['snapshot.json'].version as number;

    const byTick = new Map<number, Set<string>>();
    const results = await Promise.all(
      nodes.map(async (n, i) => {
        const samples: Array<{ at: number; tick: number; snapshot: number }> = [];
        let errors = 0;
        await new Promise((r) => setTimeout(r, Math.max(0, tickStart - 1000 - Date.now())));
        await Promise.all(
          Array.from({ length: loopsPerNode }, async () => {
            while (now() < tickStart + 1000) {
              const response = await fetch(`${n.url}/g/bench-${i}/metadata/timestamp.json`);
              const bytes = Buffer.from(await response.arrayBuffer());
              const at = now();
              if (response.status !== 200) {
                errors++;
                continue;
              }
              const doc = JSON.parse(bytes.toString()) as {
                signed: { version: number; meta: { 'snapshot.json': { version: number } } };
              };
              samples.push({
                at,
                tick: doc.signed.version,
                snapshot: doc.signed.meta['snapshot.json'].version,
              });
              const set = byTick.get(doc.signed.version) ?? new Set<string>();
              set.add(createHash('sha256').update(bytes).digest('hex'));
              byTick.set(doc.signed.version, set);
            }
          }),
        );
        const first = samples.filter((s) => s.snapshot > before).sort((a, b) => a.at - b.at)[0];
        const activationTick = staged.activationTick;
        const lastWithout = samples
          .filter((s) => s.snapshot <= before)
          .sort((a, b) => b.at - a.at)[0];
        // The node's own bracket: when it first served the activation tick, by its clock.
        const health = (await (await fetch(`${n.url}/healthz`)).json()) as {
          switch: {
            tick: number;
            lastPreviousServedMs: number;
            firstServedAfterTickMs: number;
            prerendered: boolean;
          } | null;
        };
        const own = health.switch?.tick === activationTick ? health.switch : undefined;
        return {
          serverFirstServedMs: own ? own.firstServedAfterTickMs : NaN,
          serverLastPreviousMs: own ? own.lastPreviousServedMs : NaN,
          prerendered: own?.prerendered,
          node: `node-${i + 1}`,
          lastWithoutReleaseMs: lastWithout ? lastWithout.at - tickStart : NaN,
          firstWithReleaseMs: first ? first.at - tickStart : NaN,
          staleAfterActivation: samples.filter(
            (s) => s.tick >= activationTick && s.snapshot <= before,
          ).length,
          lateClientObserved: samples.filter((s) => s.at > tickStart + 5 && s.snapshot <= before)
            .length,
          responses: samples.length,
          errors,
        };
      }),
    );
    return {
      label,
      nodes: results,
      distinctDocumentsPerTick: Math.max(...[...byTick.values()].map((s) => s.size)),
    };
  } finally {
    for (const n of nodes) await n.stop();
    repo.cleanup();
  }
}
