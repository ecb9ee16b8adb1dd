import { resolve } from 'node:path';
import { InputFileError, OperationFailed } from './errors.js';
import { configFileOptions, resolveSettings, settingOptions } from './setting-options.js';
import { command } from './spec.js';
import { NODE_SETTINGS, type NodeConfig, redactedConfig } from '../server/config.js';

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
    // Everything else, from keys to shutdown, is the server's (src/server/serve.ts).
    const { ServeFailure, serveNode } = await import('../server/serve.js');
    return serveNode(config, { dev: values.dev === true }).catch((error: unknown) => {
      if (!(error instanceof ServeFailure)) throw error;
      throw error.kind === 'no-input'
        ? new InputFileError(error.message)
        : new OperationFailed(error.message);
    });
  },
});
