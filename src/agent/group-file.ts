import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The customer group an agent state directory polls for, kept beside its receipts. */
const file = (stateDir: string): string => join(stateDir, 'group');

export function writeGroupFile(stateDir: string, group: string): void {
  writeFileSync(file(stateDir), group + '\n');
}

export function readGroupFile(stateDir: string): string | undefined {
  return existsSync(file(stateDir))
    ? readFileSync(file(stateDir), 'utf8').trim() || undefined
    : undefined;
}
