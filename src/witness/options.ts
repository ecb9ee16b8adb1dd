import type { Verifier } from '../log/note.js';
import type { WitnessConfig } from './config.js';
import type { WitnessOptions } from './node.js';

/** What `witness serve` reads from the files and addresses its settings name. */
export type WitnessInputs = Pick<WitnessOptions, 'key' | 'root' | 'roots' | 'trustProxy'> & {
  logKey: Verifier;
};

/**
 * The witness's options from its resolved settings: the one mapping, so `witness serve` and the
 * test that runs a witness from a --config file in process (with its own clock) build the same one.
 */
export function witnessOptions(config: WitnessConfig, inputs: WitnessInputs): WitnessOptions {
  return {
    dataDir: config.dataDir,
    key: inputs.key,
    root: inputs.root,
    ...(inputs.roots ? { roots: inputs.roots } : {}),
    rootRefreshMs: config.rootRefreshMs,
    logs: [{ url: config.logUrl, verifier: inputs.logKey }],
    ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}),
    database: {
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      poolSize: config.databasePoolSize,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
    },
    perAddress: {
      perSecond: config.perAddressPerSecond,
      burst: config.perAddressBurst,
      maxBuckets: config.rateLimitMaxBuckets,
    },
    perKeyPerMinute: config.receiptsPerKeyPerMinute,
    receiptMaxKeys: config.receiptMaxKeys,
    unvouchedReceiptsPerMinute: config.unvouchedReceiptsPerMinute,
    clientBytesPerMinute: config.clientBytesPerMinute,
    maxJsonBytes: config.maxJsonBytes,
    maxAddCheckpointBytes: config.maxAddCheckpointBytes,
    ...(inputs.trustProxy ? { trustProxy: inputs.trustProxy } : {}),
  };
}
