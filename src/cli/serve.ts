import { join, resolve } from 'node:path';
import type { Server } from 'node:net';
import { OperationFailed } from './errors.js';
import { inputDir } from './files.js';
import { configFileOptions, resolveSettings, settingOptions } from './setting-options.js';
import { command } from './spec.js';
import { NODE_SETTINGS, type NodeConfig, redactedConfig } from '../server/config.js';

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

/**
 * Fails as listening would, before anything is written: `serve --dev` on a busy port must not
 * generate keys and publish the examples first. Listening itself still reports a port taken since.
 */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const { createServer } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(listenFailure(error, host, port)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Where the demo agents reach a node listening on `host` (any-address binds are reached on loopback). */
const agentHost = (host: string): string =>
  host === '0.0.0.0' || host === '::' || host === ''
    ? '127.0.0.1'
    : host.includes(':')
      ? `[${host}]`
      : host;

export const serve = command({
  name: 'serve',
  summary: 'run a repository node',
  who: 'operator',
  resolvesSettings: true,
  options: {
    dev: {
      type: 'boolean',
      description: 'generate dev keys on first run and publish the examples in manifests/',
    },
    // One flag per setting of src/server/config.ts, in the schema's order.
    ...settingOptions(NODE_SETTINGS),
    ...configFileOptions('"maxJsonBytes": "8MiB"'),
  },
  examples: [
    'fairpatch serve --dev',
    'DATABASE_URL=postgres://… FAIRPATCH_OPERATOR_TOKEN=… fairpatch serve --keys keys --port 8080 --host 0.0.0.0',
    'fairpatch serve --max-json-bytes 8MiB --agent-per-address-per-second 50 --print-config',
  ],
  notes: [
    'DATABASE_URL (PostgreSQL instead of SQLite) and FAIRPATCH_OPERATOR_TOKEN are read from the environment (or --config).',
    'Every setting, its flag, variable and default: docs/configuration.md. A flag beats --config, which beats the environment.',
    'GET /metrics is in the Prometheus text format; GET /openapi.json describes the publisher, receipt and log APIs.',
  ],
  async run({ values, given }) {
    const settings = resolveSettings(NODE_SETTINGS, given, process.env);
    const config: NodeConfig = {
      ...settings,
      dataDir: resolve(settings.dataDir),
      keysDir: resolve(settings.keysDir),
    };
    if (values['print-config']) {
      console.log(JSON.stringify(redactedConfig(config), null, 2));
      return undefined;
    }
    const [
      { createOpsLog },
      { startHttpServer },
      { pollDeps },
      { superviseWorkers, workerId },
      { hostname },
      { listRootFiles },
      { generateRepositoryKeys },
      { seedExamples },
      { createNode, devOperatorToken, trustProxyOf },
      { DEMO_GROUPS, demoOwners, startDemoFleet },
    ] = await Promise.all([
      import('../server/ops-log.js'),
      import('../server/http-server.js'),
      import('../serving/poll-deps.js'),
      import('../server/cluster.js'),
      import('node:os'),
      import('../keys/key-files.js'),
      import('../keys/keygen.js'),
      import('../server/dev-seed.js'),
      import('../server/node.js'),
      import('../demo/fleet.js'),
    ]);
    const { dataDir, keysDir, port, host, workers } = config;
    // In a cluster worker (a copy of this command forked by the primary), the primary has already
    // generated keys, created the database and seeded: the worker only serves.
    const worker = workerId();
    const opsLog = createOpsLog({ format: config.logFormat, level: config.logLevel });
    if (worker === undefined) await assertPortFree(host, port);

    if (values.dev && worker === undefined && listRootFiles(keysDir).length === 0) {
      generateRepositoryKeys({ dir: keysDir, now: Date.now() });
      console.log(`generated dev keys in ${keysDir} (private keys mode 0600, git-ignored)`);
    }
    inputDir(keysDir, '--keys', 'run fairpatch keygen, or fairpatch serve --dev for dev keys');
    // Each worker rolls up its own polls under its own name (they add up in the audit).
    const nodeName =
      worker === undefined
        ? config.nodeName
        : `${config.nodeName ?? `${hostname()}:${process.pid}`}/w${worker}`;
    const open = (sync: boolean) => createNode({ ...config, nodeName, sync, opsLog });
    /** Without an operator token nobody can declare groups or add vendors: said at start, not at the first refusal. */
    const warnWithoutOperator = async (node: Awaited<ReturnType<typeof open>>) => {
      if (values.dev || worker !== undefined || (await node.store.operatorTokens()) > 0) return;
      opsLog.log(
        'warn',
        'operator-token',
        'no operator token: operator commands (vendor add, groups declare, owner, embargo) will be refused as "unknown or revoked token"; set FAIRPATCH_OPERATOR_TOKEN (or operatorToken in --config) and restart',
      );
    };
    // The demo's customers (dev only): their groups, owners and agents live under the data directory.
    const demoDir = join(dataDir, 'demo');
    const seed = async (node: Awaited<ReturnType<typeof open>>) => {
      await devOperatorToken(node.store, dataDir, Date.now());
      const seeded = await seedExamples(node, { manifestsDir: resolve('manifests'), keysDir });
      for (const s of seeded)
        console.log(
          `${s.skipped ? 'already published' : 'published'} ${s.manifest}${s.activatesAt ? ` (live from ${s.activatesAt})` : ''}`,
        );
      // Groups the operator declared itself are left as they are; a fresh demo declares its own.
      if (!(await node.store.declaredGroups())) {
        const { owners } = demoOwners(demoDir);
        await node.appDeps.declareGroups!(Object.keys(owners), owners);
        console.log(
          `declared the demo groups ${Object.keys(owners).join(', ')}, each with a demo owner key (${join(demoDir, 'owners')})`,
        );
      }
      console.log(
        `operator token in ${join(dataDir, 'operator.token')}, vendor tokens in ${join(keysDir, 'tokens.json')}`,
      );
    };
    let fleet: ReturnType<typeof startDemoFleet> | undefined;
    const startDemo = async (actualPort: number) => {
      const declared = new Set(DEMO_GROUPS);
      fleet = startDemoFleet({
        server: `http://${agentHost(host)}:${actualPort}`,
        dir: demoDir,
        root: join(keysDir, '1.root.json'),
        groups: [...declared],
        log: (line) => console.log(line),
      });
      console.log(
        `demo: ${fleet.agents} demo agents (${[...declared].join(', ')}), vouched for by their groups' demo owners, poll this node and hand in signed receipts`,
      );
    };
    const banner = (actualPort: number) => {
      const base = `http://${host}:${actualPort}`;
      console.log(`fairpatch dashboard: http://${agentHost(host)}:${actualPort}/   (releases, delivery per group, the verdict)
  serving on ${base}${workers > 1 ? ` (${workers} workers)` : ''}
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
        await warnWithoutOperator(node);
      } finally {
        await node.close();
      }
      const code = await superviseWorkers({
        workers,
        onListening: (actualPort) => {
          banner(actualPort);
          if (values.dev) void startDemo(actualPort);
        },
      });
      // The workers are gone; the demo agents polled them from this process and would keep it alive.
      await fleet?.stop();
      return code;
    }

    const node = await open(true).catch((error: unknown) => {
      // A worker that fails lets go of its primary, or the IPC channel would keep it alive.
      if (worker !== undefined) setImmediate(() => process.disconnect?.());
      throw error;
    });
    if (values.dev && worker === undefined) await seed(node);
    await warnWithoutOperator(node);
    let server: Server;
    try {
      server = await startHttpServer(node.app.fetch, {
        port,
        hostname: host,
        requestTimeoutMs: config.requestTimeoutMs,
        headersTimeoutMs: config.headersTimeoutMs,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        trustProxy: trustProxyOf(config),
        poll: pollDeps(node),
      });
    } catch (error) {
      await node.close();
      if (worker !== undefined) setImmediate(() => process.disconnect?.());
      throw listenFailure(error as NodeJS.ErrnoException, host, port);
    }
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    if (worker === undefined) banner(actualPort);
    if (values.dev && worker === undefined) await startDemo(actualPort);
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
        await fleet?.stop();
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
