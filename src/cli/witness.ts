import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Server } from 'node:net';
import { OperationFailed } from './errors.js';
import { inputFile } from './files.js';
import { configFileOptions, resolveSettings, settingOptions } from './setting-options.js';
import { command } from './spec.js';
import type { TrustProxy } from '../common/trust-proxy.js';
import { WITNESS_SETTINGS, type WitnessConfig, redactedWitnessConfig } from '../witness/config.js';
import { witnessOptions } from '../witness/options.js';

const serveWitness = command({
  name: 'serve',
  summary:
    "run a witness: an independent log of agents' signed receipts (and cosigner of the repository log's checkpoints)",
  who: 'a third party: customer, auditor, industry body',
  resolvesSettings: true,
  options: {
    // One flag per setting of src/witness/config.ts, in the schema's order.
    ...settingOptions(WITNESS_SETTINGS),
    ...configFileOptions('"receiptsPerKeyPerMinute": 60'),
  },
  examples: [
    'fairpatch keygen --witness w1 && fairpatch witness serve --log https://patches.example --log-key log.vkey --root 1.root.json --key w1.key',
  ],
  notes: [
    'DATABASE_URL (PostgreSQL instead of SQLite) is read from the environment (or --config).',
    'Every setting, its flag, variable and default: docs/configuration.md. A flag beats --config, which beats the environment.',
    'Agents: fairpatch agent --witness URL=VKEY_FILE; auditors: fairpatch audit --witness URL=VKEY_FILE.',
  ],
  async run({ values, given }) {
    const settings = resolveSettings(WITNESS_SETTINGS, given, process.env);
    const config: WitnessConfig = {
      ...settings,
      dataDir: resolve(settings.dataDir),
      keyFile: resolve(settings.keyFile),
      logKeyFile: resolve(settings.logKeyFile),
      rootFile: resolve(settings.rootFile),
    };
    if (values['print-config']) {
      console.log(JSON.stringify(redactedWitnessConfig(config), null, 2));
      return undefined;
    }
    const [
      { startHttpServer },
      { createWitness },
      { readWitnessKey },
      { httpRootSource },
      { parseRoot },
      { parseJson },
      { parseVerifierKey },
      { parseTrustProxy },
    ] = await Promise.all([
      import('../server/http-server.js'),
      import('../witness/node.js'),
      import('../witness/key.js'),
      import('../witness/roots.js'),
      import('../tuf/schema.js'),
      import('../common/canonical.js'),
      import('../log/note.js'),
      import('../common/trust-proxy.js'),
    ]);
    const { logUrl, port, host } = config;
    const logKey = parseVerifierKey(
      readFileSync(inputFile(config.logKeyFile, '--log-key'), 'utf8'),
    );
    const root = parseRoot(
      parseJson(readFileSync(inputFile(config.rootFile, '--root')), 'METADATA_INVALID'),
    );
    const key = readWitnessKey(
      inputFile(config.keyFile, '--key', 'run fairpatch keygen --witness NAME'),
    );
    const trustProxy = parseTrustProxy(config.trustProxy) as TrustProxy;
    const witness = await createWitness(
      witnessOptions(config, {
        key,
        root,
        roots: httpRootSource(logUrl, config.rootFetchTimeoutMs),
        logKey,
        trustProxy,
      }),
    );
    let server: Server;
    try {
      server = await startHttpServer(witness.app.fetch, {
        port,
        hostname: host,
        requestTimeoutMs: config.requestTimeoutMs,
        headersTimeoutMs: config.headersTimeoutMs,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        trustProxy,
      });
    } catch (error) {
      await witness.close();
      const e = error as NodeJS.ErrnoException;
      throw e.code === 'EADDRINUSE'
        ? new OperationFailed(`port ${port} is in use on ${host}; pass --port (or PORT)`)
        : e;
    }
    const address = server.address();
    const base = `http://${host}:${typeof address === 'object' && address ? address.port : port}`;
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
