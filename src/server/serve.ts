import { statSync } from 'node:fs';
import type { Server } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { listRootFiles } from '../keys/key-files.js';
import { generateRepositoryKeys } from '../keys/keygen.js';
import { pollDeps } from '../serving/poll-deps.js';
import { superviseWorkers, workerId } from './cluster.js';
import type { NodeConfig } from './config.js';
import { devOperatorToken, seedExamples } from './dev-seed.js';
import { startHttpServer } from './http-server.js';
import { type FairpatchNode, createNode, trustProxyOf } from './node.js';
import { type OpsLog, createOpsLog } from './ops-log.js';

/**
 * `fairpatch serve` after its options are parsed: one node (or a primary and its workers) from
 * start to shutdown. The command only parses and calls this; everything a running node needs,
 * the dev seed and demo fleet, listening and the signals that stop it, is here.
 */

/** A failure the operator can act on, in one line; the CLI picks the exit status by `kind`. */
export class ServeFailure extends Error {
  override readonly name = 'ServeFailure';
  constructor(
    message: string,
    /** `no-input`: a directory named on the command line is missing; `failed`: listening failed. */
    readonly kind: 'no-input' | 'failed',
  ) {
    super(message);
  }
}

export interface ServeOptions {
  /** Generate dev keys on first run, publish the examples in manifests/, run the demo fleet. */
  dev: boolean;
}

/**
 * Serves until a signal stops the process. Returns the exit code when the process is done (a
 * cluster's primary, once its workers are gone), or undefined while a node keeps serving.
 */
export async function serveNode(
  config: NodeConfig,
  options: ServeOptions,
): Promise<number | undefined> {
  const { keysDir, port, host, workers } = config;
  // In a cluster worker (a copy of this command forked by the primary), the primary has already
  // generated keys, created the database and seeded: the worker only serves.
  const worker = workerId();
  const primary = worker === undefined;
  const dev = options.dev;
  const opsLog = createOpsLog({ format: config.logFormat, level: config.logLevel });
  if (primary) await assertPortFree(host, port);
  if (dev && primary && listRootFiles(keysDir).length === 0) {
    generateRepositoryKeys({ dir: keysDir, now: Date.now() });
    console.log(`generated dev keys in ${keysDir} (private keys mode 0600, git-ignored)`);
  }
  assertKeysDir(keysDir);
  // Each worker rolls up its own polls under its own name (they add up in the audit).
  const nodeName = primary
    ? config.nodeName
    : `${config.nodeName ?? `${hostname()}:${process.pid}`}/w${worker}`;
  const open = (sync: boolean) => createNode({ ...config, nodeName, sync, opsLog });
  const demo = new DevDemo(config);

  if (workers > 1 && primary) {
    // Creating or migrating the database and seeding are the steps N processes must not race:
    // done once here, before any worker opens the database.
    const node = await open(false);
    try {
      if (dev) await demo.seed(node);
      await warnWithoutOperator(node, opsLog, dev);
    } finally {
      await node.close();
    }
    const code = await superviseWorkers({
      workers,
      onListening: (actualPort) => {
        banner(config, actualPort);
        if (dev) void demo.start(actualPort);
      },
    });
    // The workers are gone; the demo agents polled them from this process and would keep it alive.
    await demo.stop();
    return code;
  }

  const node = await open(true).catch((error: unknown) => {
    // A worker that fails lets go of its primary, or the IPC channel would keep it alive.
    if (!primary) setImmediate(() => process.disconnect?.());
    throw error;
  });
  if (dev && primary) await demo.seed(node);
  if (primary) await warnWithoutOperator(node, opsLog, dev);
  const server = await listen(node, config).catch(async (error: unknown) => {
    await node.close();
    if (!primary) setImmediate(() => process.disconnect?.());
    throw error;
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  if (primary) banner(config, actualPort);
  if (dev && primary) await demo.start(actualPort);
  stopOnSignals(server, node, demo, primary);
  return undefined;
}

/** The keys directory must exist once dev keys had their chance to be generated. */
function assertKeysDir(keysDir: string): void {
  if (!statSync(keysDir, { throwIfNoEntry: false })?.isDirectory())
    throw new ServeFailure(
      `--keys ${keysDir}: no such directory; run fairpatch keygen, or fairpatch serve --dev for dev keys`,
      'no-input',
    );
}

/** Without an operator token nobody can declare groups or add vendors: said at start, not at the first refusal. */
async function warnWithoutOperator(node: FairpatchNode, opsLog: OpsLog, dev: boolean) {
  if (dev || (await node.store.operatorTokens()) > 0) return;
  opsLog.log(
    'warn',
    'operator-token',
    'no operator token: operator commands (vendor add, groups declare, owner, embargo) will be refused as "unknown or revoked token"; set FAIRPATCH_OPERATOR_TOKEN (or operatorToken in --config) and restart',
  );
}

function listen(node: FairpatchNode, config: NodeConfig): Promise<Server> {
  const { port, host } = config;
  return startHttpServer(node.app.fetch, {
    port,
    hostname: host,
    requestTimeoutMs: config.requestTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    trustProxy: trustProxyOf(config),
    poll: pollDeps(node),
  }).catch((error: unknown) => {
    throw listenFailure(error as NodeJS.ErrnoException, host, port);
  });
}

/**
 * SIGTERM (and SIGINT on the primary): no new requests, those in flight answered, the last
 * delivery roll-up logged, then exit.
 */
function stopOnSignals(server: Server, node: FairpatchNode, demo: DevDemo, primary: boolean): void {
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
      await demo.stop();
      await node.close();
      process.exit(0);
    })().catch((error: unknown) => {
      console.error(`fairpatch: shutdown: ${(error as Error).message}`);
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  if (primary) process.once('SIGINT', () => shutdown('SIGINT'));
  else {
    // The primary stops its workers (SIGTERM); a Ctrl-C reaches the whole process group, so a
    // worker leaves SIGINT to the primary. A worker whose primary is gone stops too.
    process.on('SIGINT', () => {});
    process.once('disconnect', () => shutdown('disconnect'));
  }
}

/** The dev node's demo: the examples published, the demo groups declared, a fleet of agents. */
class DevDemo {
  private fleet: { stop(): Promise<void> } | undefined;
  /** The demo's customers: their groups, owners and agents live under the data directory. */
  private readonly dir: string;

  constructor(private readonly config: NodeConfig) {
    this.dir = join(config.dataDir, 'demo');
  }

  async seed(node: FairpatchNode): Promise<void> {
    const { dataDir, keysDir } = this.config;
    const { demoOwners } = await import('../demo/fleet.js');
    await devOperatorToken(node.store, dataDir, Date.now());
    const seeded = await seedExamples(node, { manifestsDir: resolve('manifests'), keysDir });
    for (const s of seeded)
      console.log(
        `${s.skipped ? 'already published' : 'published'} ${s.manifest}${s.activatesAt ? ` (live from ${s.activatesAt})` : ''}`,
      );
    // Groups the operator declared itself are left as they are; a fresh demo declares its own.
    if (!(await node.store.declaredGroups())) {
      const { owners } = demoOwners(this.dir);
      await node.appDeps.declareGroups!(Object.keys(owners), owners);
      console.log(
        `declared the demo groups ${Object.keys(owners).join(', ')}, each with a demo owner key (${join(this.dir, 'owners')})`,
      );
    }
    console.log(
      `operator token in ${join(dataDir, 'operator.token')}, vendor tokens in ${join(keysDir, 'tokens.json')}`,
    );
  }

  async start(port: number): Promise<void> {
    const { DEMO_GROUPS, startDemoFleet } = await import('../demo/fleet.js');
    const declared = new Set(DEMO_GROUPS);
    const fleet = startDemoFleet({
      server: `http://${agentHost(this.config.host)}:${port}`,
      dir: this.dir,
      root: join(this.config.keysDir, '1.root.json'),
      groups: [...declared],
      log: (line) => console.log(line),
    });
    this.fleet = fleet;
    console.log(
      `demo: ${fleet.agents} demo agents (${[...declared].join(', ')}), vouched for by their groups' demo owners, poll this node and hand in signed receipts`,
    );
  }

  async stop(): Promise<void> {
    await this.fleet?.stop();
  }
}

function banner(config: NodeConfig, port: number): void {
  const { host, keysDir, workers } = config;
  const base = `http://${host}:${port}`;
  console.log(`fairpatch dashboard: http://${agentHost(host)}:${port}/   (releases, delivery per group, the verdict)
  serving on ${base}${workers > 1 ? ` (${workers} workers)` : ''}
  poll:      ${base}/metadata/timestamp.json   (per group: ${base}/g/<group>/metadata/timestamp.json)
  trust:     ${join(keysDir, '1.root.json')}
  tuf-js:    metadataUrl ${base}/g/eu-west/metadata  targetBaseUrl ${base}/g/eu-west/targets
  health:    ${base}/healthz   metrics: ${base}/metrics   API: ${base}/openapi.json`);
}

/** Where the demo agents reach a node listening on `host` (any-address binds are reached on loopback). */
const agentHost = (host: string): string =>
  host === '0.0.0.0' || host === '::' || host === ''
    ? '127.0.0.1'
    : host.includes(':')
      ? `[${host}]`
      : host;

/** A listen failure in words: the port or host to change, not an uncaught 'error' event. */
function listenFailure(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE')
    return new ServeFailure(
      `port ${port} is in use on ${host}; pass --port (or PORT) to use another`,
      'failed',
    );
  if (error.code === 'EACCES')
    return new ServeFailure(`port ${port} needs privileges; pass --port above 1023`, 'failed');
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND')
    return new ServeFailure(
      `cannot listen on host ${host}: not an address of this machine; pass --host`,
      'failed',
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
