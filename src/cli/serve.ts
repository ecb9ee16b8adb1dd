import { join, resolve } from 'node:path';
import type { Server } from 'node:net';
import { OperationFailed, UsageError } from './errors.js';
import { KEYS } from './common-options.js';
import { inputDir } from './files.js';
import { command } from './spec.js';
import { parseDuration, positiveInt, serverUrl } from './validate.js';

/** A listen failure in words: the port or host to change, not an uncaught 'error' event. */
function listenFailure(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE')
    return new OperationFailed(
      `port ${port} is in use on ${host}; pass --port (or PORT) to use another`,
    );
  if (error.code === 'EACCES')
    return new OperationFailed(`port ${port} needs privileges; pass --port above 1023`);
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND')
    return new OperationFailed(
      `cannot listen on host ${host}: not an address of this machine; pass --host`,
    );
  return error;
}

export const serve = command({
  name: 'serve',
  summary: 'run a repository node',
  who: 'operator',
  options: {
    data: {
      type: 'string',
      arg: 'DIR',
      default: 'data',
      env: 'FAIRPATCH_DATA_DIR',
      description: 'data directory (SQLite file, blobs)',
    },
    keys: KEYS,
    port: {
      type: 'string',
      arg: 'N',
      default: '8080',
      env: 'PORT',
      description: 'port to listen on (0: any free port)',
    },
    host: {
      type: 'string',
      arg: 'H',
      default: '127.0.0.1',
      env: 'HOST',
      description: 'address to listen on',
    },
    dev: {
      type: 'boolean',
      description: 'generate dev keys on first run and publish the examples in manifests/',
    },
    'min-lead': {
      type: 'string',
      arg: 'DURATION',
      default: '30s',
      env: 'FAIRPATCH_MIN_LEAD',
      description: 'shortest time between publishing and release_at',
    },
    'max-horizon': {
      type: 'string',
      arg: 'DURATION',
      default: '90d',
      description: 'furthest ahead a release may be scheduled',
    },
    'max-streams-per-address': {
      type: 'string',
      arg: 'N',
      default: '64',
      description: 'event streams one client address may hold',
    },
    'node-name': {
      type: 'string',
      arg: 'NAME',
      description: 'names this node in delivery roll-ups (default host:pid)',
    },
    workers: {
      type: 'string',
      arg: 'N',
      default: 'auto',
      env: 'FAIRPATCH_WORKERS',
      description: 'processes serving requests on one port (auto: one per core)',
    },
    'max-clock-skew': {
      type: 'string',
      arg: 'DURATION',
      default: '100ms',
      env: 'FAIRPATCH_MAX_CLOCK_SKEW',
      description:
        "over PostgreSQL: largest difference from the database's clock before the node stops serving ticks",
    },
    'trust-proxy': {
      type: 'string',
      arg: 'CIDRS|N',
      default: 'none',
      env: 'FAIRPATCH_TRUST_PROXY',
      description:
        'proxies whose X-Forwarded-For names the client: addresses or CIDR ranges (10.0.0.0/8,::1), or a number of hops every request passes; none: the socket peer is the client',
    },
    'request-timeout': {
      type: 'string',
      arg: 'DURATION',
      default: '60s',
      description: 'longest time to receive one request, body included (artifact uploads too)',
    },
    'headers-timeout': {
      type: 'string',
      arg: 'DURATION',
      default: '10s',
      description: "longest time to receive a request's headers",
    },
    witness: {
      type: 'string',
      arg: 'URL',
      multiple: true,
      description:
        'a witness asked to cosign each new log checkpoint (C2SP tlog-witness; repeatable); the cosigned checkpoint is served at /log/checkpoint',
    },
    'max-connections-per-address': {
      type: 'string',
      arg: 'N',
      default: '256',
      description: 'open connections one client address may hold (trusted proxies are not capped)',
    },
  },
  examples: [
    'fairpatch serve --dev',
    'DATABASE_URL=postgres://… FAIRPATCH_OPERATOR_TOKEN=… fairpatch serve --keys keys --port 8080 --host 0.0.0.0',
  ],
  notes: [
    'DATABASE_URL (PostgreSQL instead of SQLite) and FAIRPATCH_OPERATOR_TOKEN are read from the environment.',
    'GET /metrics is in the Prometheus text format; GET /openapi.json describes the publisher, receipt and log APIs.',
  ],
  async run({ values }) {
    const [
      { startHttpServer },
      { parseTrustProxy },
      { pollDeps },
      { superviseWorkers, workerId },
      { availableParallelism, hostname },
      { listRootFiles },
      { generateRepositoryKeys },
      { seedExamples },
      { createNode, devOperatorToken },
    ] = await Promise.all([
      import('../server/http-server.js'),
      import('../http/client-address.js'),
      import('../server/poll-deps.js'),
      import('../server/cluster.js'),
      import('node:os'),
      import('../keys/key-files.js'),
      import('../keys/keygen.js'),
      import('../server/dev-seed.js'),
      import('../server/node.js'),
    ]);
    const dataDir = resolve(values.data);
    const keysDir = resolve(values.keys);
    // Port 0 asks the OS for a free port (tests); the real one is printed once listening.
    const port = values.port === '0' ? 0 : positiveInt(values.port, '--port')!;
    if (port > 65_535) throw new UsageError(`--port must be at most 65535, not ${port}`);
    const host = values.host;
    const minLeadMs = parseDuration(values['min-lead'], '--min-lead');
    const maxHorizonMs = parseDuration(values['max-horizon'], '--max-horizon');
    const maxPerAddress = positiveInt(
      values['max-streams-per-address'],
      '--max-streams-per-address',
    )!;
    const trustProxy = parseTrustProxy(values['trust-proxy']);
    if (typeof trustProxy === 'string') throw new UsageError(`--trust-proxy: ${trustProxy}`);
    const requestTimeoutMs = parseDuration(values['request-timeout'], '--request-timeout');
    const headersTimeoutMs = parseDuration(values['headers-timeout'], '--headers-timeout');
    if (headersTimeoutMs < 1 || requestTimeoutMs < headersTimeoutMs)
      throw new UsageError('--headers-timeout must be positive and at most --request-timeout');
    const maxConnectionsPerAddress = positiveInt(
      values['max-connections-per-address'],
      '--max-connections-per-address',
    )!;
    const workers =
      values.workers === 'auto'
        ? availableParallelism()
        : positiveInt(values.workers, '--workers')!;
    // In a cluster worker (a copy of this command forked by the primary), the primary has already
    // generated keys, created the database and seeded: the worker only serves.
    const worker = workerId();

    if (values.dev && worker === undefined && listRootFiles(keysDir).length === 0) {
      generateRepositoryKeys({ dir: keysDir, now: Date.now() });
      console.log(`generated dev keys in ${keysDir} (private keys mode 0600, git-ignored)`);
    }
    inputDir(keysDir, '--keys', 'run fairpatch keygen, or fairpatch serve --dev for dev keys');
    const nodeName =
      values['node-name'] ?? (worker === undefined ? undefined : `${hostname()}:${process.pid}`);
    const open = (sync: boolean) =>
      createNode({
        dataDir,
        keysDir,
        sync,
        minLeadMs,
        maxHorizonMs,
        maxClockSkewMs: parseDuration(values['max-clock-skew'], '--max-clock-skew'),
        notifierLimits: { maxPerAddress },
        trustProxy,
        // Each worker rolls up its own polls under its own name (they add up in the audit).
        ...(nodeName
          ? { nodeName: worker === undefined ? nodeName : `${nodeName}/w${worker}` }
          : {}),
        ...(values.witness
          ? {
              witnesses: values.witness
                .split(',')
                .filter(Boolean)
                .map((w) => serverUrl(w, '--witness')),
            }
          : {}),
        ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
        ...(process.env.FAIRPATCH_OPERATOR_TOKEN
          ? { operatorToken: process.env.FAIRPATCH_OPERATOR_TOKEN }
          : {}),
      });
    const seed = async (node: Awaited<ReturnType<typeof open>>) => {
      await devOperatorToken(node.store, dataDir, Date.now());
      const seeded = await seedExamples(node, { manifestsDir: resolve('manifests'), keysDir });
      for (const s of seeded)
        console.log(
          `${s.skipped ? 'already published' : 'published'} ${s.manifest}${s.activatesAt ? ` (live from ${s.activatesAt})` : ''}`,
        );
      console.log(
        `operator token in ${join(dataDir, 'operator.token')}, vendor tokens in ${join(keysDir, 'tokens.json')}`,
      );
    };
    const banner = (actualPort: number) => {
      const base = `http://${host}:${actualPort}`;
      console.log(`fairpatch serving on ${base}${workers > 1 ? ` (${workers} workers)` : ''}
  poll:      ${base}/metadata/timestamp.json   (per group: ${base}/g/<group>/metadata/timestamp.json)
  trust:     ${join(keysDir, '1.root.json')}
  tuf-js:    metadataUrl ${base}/g/eu-west/metadata  targetBaseUrl ${base}/g/eu-west/targets
  health:    ${base}/healthz   metrics: ${base}/metrics   API: ${base}/openapi.json`);
    };

    if (workers > 1 && worker === undefined) {
      // Creating or migrating the database and seeding are the steps N processes must not race:
      // done once here, before any worker opens the database.
      const node = await open(false);
      try {
        if (values.dev) await seed(node);
      } finally {
        await node.close();
      }
      return superviseWorkers({ workers, onListening: banner });
    }

    const node = await open(true).catch((error: unknown) => {
      // A worker that fails lets go of its primary, or the IPC channel would keep it alive.
      if (worker !== undefined) setImmediate(() => process.disconnect?.());
      throw error;
    });
    if (values.dev && worker === undefined) await seed(node);
    let server: Server;
    try {
      server = await startHttpServer(node.app.fetch, {
        port,
        hostname: host,
        requestTimeoutMs,
        headersTimeoutMs,
        maxConnectionsPerAddress,
        trustProxy,
        poll: pollDeps(node),
      });
    } catch (error) {
      await node.close();
      if (worker !== undefined) setImmediate(() => process.disconnect?.());
      throw listenFailure(error as NodeJS.ErrnoException, host, port);
    }
    const address = server.address();
    if (worker === undefined) banner(typeof address === 'object' && address ? address.port : port);
    let closing = false;
    const shutdown = (signal: string): void => {
      if (closing) return;
      closing = true;
      console.log(
        `${signal}: no new requests; answering those in flight, then logging the last delivery roll-up`,
      );
      // A second signal, or a hung close, still ends the process.
      setTimeout(() => process.exit(1), 20_000).unref();
      void (async () => {
        // Every poll answered is counted before the last roll-up drains the counters.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        node.notifier.closeAll();
        (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
        await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
        await node.close();
        process.exit(0);
      })().catch((error: unknown) => {
        console.error(`fairpatch: shutdown: ${(error as Error).message}`);
        process.exit(1);
      });
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    if (worker === undefined) process.once('SIGINT', () => shutdown('SIGINT'));
    else {
      // The primary stops its workers (SIGTERM); a Ctrl-C reaches the whole process group, so a
      // worker leaves SIGINT to the primary. A worker whose primary is gone stops too.
      process.on('SIGINT', () => {});
      process.once('disconnect', () => shutdown('disconnect'));
    }
    return undefined;
  },
});
