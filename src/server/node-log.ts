import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../common/clock.js';
import type { Db } from '../db/schema.js';
import { readLogKey } from '../keys/keygen.js';
import { signCheckpoint } from '../log/checkpoint.js';
import { Sequencer } from '../log/sequencer.js';
import { LogStore } from '../log/store.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { NodeConfig } from './config.js';
import { Cosigning } from './cosigning.js';
import type { OpsLog } from './ops-log.js';

/** A node's transparency log: the store, the one writer in front of it, and its witnesses. */
export interface NodeLog {
  log: LogStore;
  sequencer: Sequencer;
  /** Asks the witnesses to cosign; undefined when the node names none. */
  cosigning: Cosigning | undefined;
  /** The C2SP verifier key auditors pin for this log. */
  verifierKey: string;
  /** The next log key's verifier key, during a log key rotation. */
  nextVerifierKey: string | undefined;
}

/** Opens the log with the node's log key (and the next one, during a rotation). */
export function openLog(
  db: Db,
  settings: NodeConfig,
  clock: Clock,
  metrics: NodeMetrics,
  opsLog: OpsLog,
): NodeLog {
  const { keysDir } = settings;
  const logKey = readLogKey(keysDir);
  // During a log key rotation both keys co-sign, so auditors pinned to either verify every checkpoint.
  const nextLogKey = existsSync(join(keysDir, 'log-next.key'))
    ? readLogKey(keysDir, 'log-next')
    : undefined;
  const logSecrets = [logKey.key.secretKey, ...(nextLogKey ? [nextLogKey.key.secretKey] : [])];
  const log = new LogStore(db, (size, root) =>
    signCheckpoint({ origin: logKey.name, size, rootHash: root }, logKey.name, logSecrets),
  );
  const cosigning = settings.witnesses.length
    ? new Cosigning(log, settings.witnesses, (line) => opsLog.log('warn', 'witness', line))
    : undefined;
  const sequencer = new Sequencer(
    log,
    () => clock.now(),
    undefined,
    (entries, seconds) => {
      metrics.appended(entries, seconds);
      void cosigning?.kick();
    },
  );
  return { log, sequencer, cosigning, verifierKey: logKey.vkey, nextVerifierKey: nextLogKey?.vkey };
}
