import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { OperationFailed } from './errors.js';
import { inputFile } from './files.js';
import { configFileOptions, resolveSettings, settingOptions } from './setting-options.js';
import { command } from './spec.js';
import type { TrustProxy } from '../common/trust-proxy.js';
import { WITNESS_SETTINGS, type WitnessConfig, redactedWitnessConfig } from '../witness/config.js';

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
      { ServeFailure },
      { runWitness },
      { readWitnessKey },
      { httpRootSource },
      { parseRoot },
      { parseJson },
      { parseVerifierKey },
      { parseTrustProxy },
    ] = await Promise.all([
      import('../server/serve.js'),
      import('../server/serve-witness.js'),
      import('../witness/key.js'),
      import('../witness/roots.js'),
      import('../tuf/schema.js'),
      import('../common/canonical.js'),
      import('../log/note.js'),
      import('../common/trust-proxy.js'),
    ]);
    // The files the settings name are read here, each refusal naming its flag; the rest, from
    // putting the witness together to shutdown, is the server's (src/server/serve-witness.ts).
    const logKey = parseVerifierKey(
      readFileSync(inputFile(config.logKeyFile, '--log-key'), 'utf8'),
    );
    const root = parseRoot(
      parseJson(readFileSync(inputFile(config.rootFile, '--root')), 'METADATA_INVALID'),
    );
    const key = readWitnessKey(
      inputFile(config.keyFile, '--key', 'run fairpatch keygen --witness NAME'),
    );
    const inputs = {
      key,
      root,
      roots: httpRootSource(config.logUrl, config.rootFetchTimeoutMs),
      logKey,
      trustProxy: parseTrustProxy(config.trustProxy) as TrustProxy,
    };
    return runWitness(config, inputs).catch((error: unknown) => {
      throw error instanceof ServeFailure ? new OperationFailed(error.message) : error;
    });
  },
});

export const witness = command({
  name: 'witness',
  summary: "run a witness of agents' receipts and the repository log",
  who: 'a third party',
  examples: [],
  subcommands: [serveWitness],
});
