import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchRepo } from '../lib/repo.js';
import { rssMiB, wrk } from '../lib/proc.js';

export interface MemoryResult {
  clients: number;
  requests: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  errors: number;
}

/** Server RSS while 100,000 distinct clients (each its own group path) poll timestamp.json. */
export async function memoryBenchmark(clients = 100_000, seconds = 10): Promise<MemoryResult> {
  const repo = new BenchRepo();
  const node = await repo.node('memory');
  try {
    const script = join(repo.dir, 'clients.lua');
    writeFileSync(
      script,
      `local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, "/g/client-" .. (n % ${clients}) .. "/metadata/timestamp.json")\nend\n`,
    );
    await fetch(`${node.url}/healthz`);
    const rssBeforeMiB = rssMiB(node.process.pid!);
    const result = await wrk(`${node.url}/`, { connections: 100, seconds, script });
    return {
      clients,
      requests: Math.round(result.rps * seconds),
      rssBeforeMiB,
      rssAfterMiB: rssMiB(node.process.pid!),
      errors: result.errors,
    };
  } finally {
    await node.stop();
    repo.cleanup();
  }
}
