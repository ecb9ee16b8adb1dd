import type { Server } from 'node:net';
import type { TrustProxy } from '../common/trust-proxy.js';
import type { WitnessConfig } from '../witness/config.js';
import { createWitness } from '../witness/node.js';
import { type WitnessInputs, witnessOptions } from '../witness/options.js';
import { startHttpServer } from './http-server.js';
import { ServeFailure } from './serve.js';

/**
 * `fairpatch witness serve` once its settings and the files they name are read: the witness put
 * together (createWitness, its one composition root), listening, and stopped by a signal. Returns
 * once it listens; the process then runs until SIGINT or SIGTERM.
 */
export async function runWitness(
  config: WitnessConfig,
  inputs: WitnessInputs & { trustProxy: TrustProxy },
): Promise<undefined> {
  const { port, host } = config;
  const witness = await createWitness(witnessOptions(config, inputs));
  let server: Server;
  try {
    server = await startHttpServer(witness.app.fetch, {
      port,
      hostname: host,
      requestTimeoutMs: config.requestTimeoutMs,
      headersTimeoutMs: config.headersTimeoutMs,
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      trustProxy: inputs.trustProxy,
    });
  } catch (error) {
    await witness.close();
    const e = error as NodeJS.ErrnoException;
    throw e.code === 'EADDRINUSE'
      ? new ServeFailure(`port ${port} is in use on ${host}; pass --port (or PORT)`, 'failed')
      : e;
  }
  const address = server.address();
  const base = `http://${host}:${typeof address === 'object' && address ? address.port : port}`;
  console.log(`fairpatch witness ${inputs.key.name} on ${base}
  verifier key: ${witness.verifierKey}
  receipts:     ${base}/receipts   log: ${base}/log/checkpoint`);
  const shutdown = (): void => {
    setTimeout(() => process.exit(1), 10_000).unref();
    server.close(() => void witness.close().then(() => process.exit(0)));
    (server as Server & { closeIdleConnections?: () => void }).closeIdleConnections?.();
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  return undefined;
}
