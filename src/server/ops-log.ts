// The node's operations log: one line per thing an operator acts on or is asked about (a publish, an
// activation, a halt, a key rotation, an embargo decision, the database going and coming back, a
// witness that did not cosign, refusals by code). Text for a terminal, JSON (one object per line) for
// a collector; `--log-level` drops what is less severe.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface OpsLog {
  /** `event` names the kind (publish, activation, halt, …): what a collector filters on. */
  log(level: LogLevel, event: string, message: string, fields?: LogFields): void;
}

export function createOpsLog(options: {
  format: LogFormat;
  level: LogLevel;
  write?: (line: string) => void;
  now?: () => number;
}): OpsLog {
  const least = LOG_LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  return {
    log(level, event, message, fields = {}) {
      if (LOG_LEVELS.indexOf(level) < least) return;
      const time = new Date(now()).toISOString();
      const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
      if (options.format === 'json') {
        write(JSON.stringify({ time, level, event, msg: message, ...Object.fromEntries(defined) }));
        return;
      }
      // One line whatever the message holds: a newline in it would forge a second entry.
      const flat = message.replace(/[\r\n]+/g, ' ');
      write(`${time} ${level.padEnd(5)} ${event}: ${flat}`);
    },
  };
}

/** Says nothing: a node opened by a test or a tool that has no operator to tell. */
export const silentLog: OpsLog = { log: () => {} };
