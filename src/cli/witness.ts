import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Server } from 'node:net';
import { OperationFailed, UsageError } from './errors.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { positiveInt, serverUrl } from './validate.js';

const serveWitness = command({
  name: 'serve',
  summary:
    "run a witness: an independent log of agents' signed receipts (and cosigner of the repository log's checkpoints)",
  who: 'a third party: customer, auditor, industry body',
  options: {
    log: {
      type: 'string',
      arg: 'URL',
      required: true,
      description: 'the repository node whose roots (and checkpoints) this witness follows',
    },
    'log-key': {
      type: 'string',
      arg: 'FILE',
      required: true,
      description: "the repository log's C2SP verifier key (keys/log.vkey), pinned out of band",
    },
    root: {
      type: 'string',
      arg: 'FILE',
      required: true,
      description:
        "the repository's trusted TUF root (1.root.json); newer roots are followed from --log",
    },
    key: {
      type: 'string',
      arg: 'FILE',
      default: 'witness.key',
      description:
        "this witness's key (fairpatch keygen --witness NAME writes NAME.key and NAME.vkey)",
    },
    data: {
      type: 'string',
      arg: 'DIR',
      default: 'witness-data',
      env: 'FAIRPATCH_WITNESS_DATA_DIR',
      description: 'data directory (SQLite file)',
    },
    port: {
      type: 'string',
      arg: 'N',
      default: '8090',
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
  },
  examples: [
    'fairpatch keygen --witness w1 && fairpatch witness serve --log https://patches.example --log-key log.vkey --root 1.root.json --key w1.key',
  ],
  notes: [
    'DATABASE_URL (PostgreSQL instead of SQLite) is read from the environment.',
    'Agents: fairpatch agent --witness URL=VKEY_FILE; auditors: fairpatch audit --witness URL=VKEY_FILE.',
  ],
  async run({ values }) {
    const [
      { startHttpServer },
      { createWitness },
      { readWitnessKey },
      { httpRootSource },
      { parseRoot },
      { parseJson },
      { parseVerifierKey },
      { TRUST_NO_PROXY },
    ] = await Promise.all([
      import('../server/http-server.js'),
      import('../witness/node.js'),
      import('../witness/key.js'),
      import('../witness/roots.js'),
      import('../tuf/schema.js'),
      import('../tuf/canonical.js'),
      import('../log/note.js'),
      import('../http/client-address.js'),
    ]);
    const logUrl = serverUrl(values.log, '--log');
    const port = values.port === '0' ? 0 : positiveInt(values.port, '--port')!;
    if (port > 65_535) throw new UsageError(`--port must be at most 65535, not ${port}`);
    const logKey = parseVerifierKey(
      readFileSync(inputFile(values['log-key'], '--log-key'), 'utf8'),
    );
    const root = parseRoot(
      parseJson(readFileSync(inputFile(values.root, '--root')), 'METADATA_INVALID'),
    );
    const key = readWitnessKey(
      inputFile(values.key, '--key', 'run fairpatch keygen --witness NAME'),
    );
    const witness = await createWitness({
      dataDir: resolve(values.data),
      key,
      root,
      roots: httpRootSource(logUrl),
      logs: [{ url: logUrl, verifier: logKey }],
      ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : {}),
    });
    let server: Server;
    try {
      server = await startHttpServer(witness.app.fetch, {
        port,
        hostname: values.host,
        requestTimeoutMs: 60_000,
        headersTimeoutMs: 10_000,
        maxConnectionsPerAddress: 256,
        trustProxy: TRUST_NO_PROXY,
      });
    } catch (error) {
      await witness.close();
      const e = error as NodeJS.ErrnoException;
      throw e.code === 'EADDRINUSE'
        ? new OperationFailed(`port ${port} is in use on ${values.host}; pass --port`)
        : e;
    }
    const address = server.address();
    const base = `http://${values.host}:${typeof address === 'object' && address ? address.port : port}`;
    console.log(`fairpatch witness ${key.name} on ${base}
  verifier key: ${witness.verifierKey}
  receipts:     ${base}/receipts   log: ${base}/log/checkpoint`);
    const shutdown = (): void => {
      setTimeout(() => process.exit(1), 10_000).unref();
      server.close(() => void witness.close().then(() => process.exit(0)));
      (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  },
});

export const witness = command({
  name: 'witness',
  summary: "run a witness of agents' receipts and the repository log",
  who: 'a third party',
  examples: [],
  subcommands: [serveWitness],
});
