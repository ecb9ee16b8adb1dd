import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { listRootFiles } from '../keys/key-files.js';
import { generateRepositoryKeys } from '../keys/keygen.js';
import { seedExamples } from '../server/dev-seed.js';
import { createNode, devOperatorToken } from '../server/node.js';
import { args, parseDuration, positiveInt } from './args.js';

const USAGE = `fairpatch serve [--data DIR] [--keys DIR] [--port N] [--host H] [--dev]
  --data   data directory (SQLite file, blobs); default $FAIRPATCH_DATA_DIR or ./data
  --keys   key directory; default ./keys
  --dev    generate dev keys on first run and publish the examples in manifests/
  --min-lead 30s                  shortest time between publishing and release_at (FAIRPATCH_MIN_LEAD)
  --max-streams-per-address 64    event streams one client address may hold
  --node-name NAME                names this node in delivery roll-ups (default host:pid)
  --max-clock-skew 100ms          over PostgreSQL: largest difference from the database's clock (FAIRPATCH_MAX_CLOCK_SKEW)
  PORT, HOST, DATABASE_URL and FAIRPATCH_OPERATOR_TOKEN are read from the environment.`;

export async function serveCommand(argv: string[]): Promise<void> {
  const { values } = args(argv, {
    data: { type: 'string' },
    keys: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    dev: { type: 'boolean' },
    'min-lead': { type: 'string' },
    'max-streams-per-address': { type: 'string' },
    'node-name': { type: 'string' },
    'max-clock-skew': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return void console.log(USAGE);
  const dataDir = resolve(values.data ?? process.env.FAIRPATCH_DATA_DIR ?? 'data');
  const keysDir = resolve(values.keys ?? 'keys');
  const portText = values.port ?? process.env.PORT;
  // Port 0 asks the OS for a free port (tests); the real one is printed once listening.
  const port = portText === '0' ? 0 : (positiveInt(portText, '--port') ?? 8080);
  const host = values.host ?? process.env.HOST ?? '127.0.0.1';

  if (values.dev && listRootFiles(keysDir).length === 0) {
    generateRepositoryKeys({ dir: keysDir, now: Date.now() });
    console.log(`generated dev keys in ${keysDir} (private keys mode 0600, git-ignored)`);
  }
  const minLead = values['min-lead'] ?? process.env.FAIRPATCH_MIN_LEAD;
  const maxSkew = values['max-clock-skew'] ?? process.env.FAIRPATCH_MAX_CLOCK_SKEW;
  const perAddress = positiveInt(values['max-streams-per-address'], '--max-streams-per-address');
  const node = await createNode({
    dataDir,
    keysDir,
    sync: true,
    ...(minLead ? { minLeadMs: parseDuration(minLead) } : {}),
    ...(maxSkew ? { maxClockSkewMs: parseDuration(maxSkew) } : {}),
    ...(perAddress ? { notifierLimits: { maxPerAddress: perAddress } } : {}),
    ...(values['node-name'] ? { nodeName: values['node-name'] } : {}),
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    ...(process.env.FAIRPATCH_OPERATOR_TOKEN ? { operatorToken: process.env.FAIRPATCH_OPERATOR_TOKEN } : {}),
  });
  if (values.dev) {
    await devOperatorToken(node.store, dataDir, Date.now());
    const seeded = await seedExamples(node, { manifestsDir: resolve('manifests'), keysDir });
    for (const s of seeded) console.log(`${s.skipped ? 'already published' : 'published'} ${s.manifest}${s.activatesAt ? ` (live from ${s.activatesAt})` : ''}`);
    console.log(`operator token in ${join(dataDir, 'operator.token')}, vendor tokens in ${join(keysDir, 'tokens.json')}`);
  }
  const server = serve({ fetch: node.app.fetch, port, hostname: host }, (info) => {
    const base = `http://${host}:${info.port}`;
    console.log(`fairpatch serving on ${base}
  poll:      ${base}/metadata/timestamp.json   (per group: ${base}/g/<group>/metadata/timestamp.json)
  trust:     ${join(keysDir, '1.root.json')}
  tuf-js:    metadataUrl ${base}/g/eu-west/metadata  targetBaseUrl ${base}/g/eu-west/targets
  health:    ${base}/healthz`);
  });
  server.once('error', (error: Error) => {
    console.error(`fairpatch: cannot listen on ${host}:${port}: ${error.message}`);
    process.exit(2);
  });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: no new requests; answering those in flight, then logging the last delivery roll-up`);
    // A second signal, or a hung close, still ends the process.
    setTimeout(() => process.exit(1), 20_000).unref();
    void (async () => {
      // Every poll answered is counted before the last roll-up drains the counters.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      node.notifier.closeAll();
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      await node.close();
      process.exit(0);
    })().catch((error: unknown) => {
      console.error(`fairpatch: shutdown: ${(error as Error).message}`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}
