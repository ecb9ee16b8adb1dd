import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agent } from '../../src/cli/agent.js';
import { parseCommandLine } from '../../src/cli/args.js';
import { ConfigError } from '../../src/config/settings.js';
import { NODE_SETTINGS } from '../../src/server/config.js';
import { WITNESS_SETTINGS } from '../../src/witness/config.js';
import { cli } from '../helpers/cli.js';

// Every config file fairpatch reads refuses a key it does not know, `__proto__` included: JSON.parse
// makes it an own key, and copied into a plain object it set that object's prototype instead, so
// the key was skipped by the strict check and anything under it was read as inherited settings.

const dir = mkdtempSync(join(tmpdir(), 'fairpatch-config-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const PROTO = [
  ['an object', '{"__proto__": {"port": 1}}'],
  ['a string', '{"__proto__": "x"}'],
  ['a misspelt setting', '{"maxJsonByte": 10}'],
] as const;

describe('config file keys', () => {
  for (const [settings, name] of [
    [NODE_SETTINGS, 'node'],
    [WITNESS_SETTINGS, 'witness'],
  ] as const)
    it.each(PROTO)(`the ${name}'s settings refuse %s under an unknown key`, (_what, text) => {
      const values = JSON.parse(text) as unknown;
      const key = Object.keys(values as object)[0]!;
      expect(() => settings.resolve({ file: { path: 'c.json', values } })).toThrow(
        new ConfigError(
          `--config c.json: "${key}": unknown setting; known ones are listed in docs/configuration.md`,
        ),
      );
    });

  it.each(PROTO)("a command's --config file (fairpatch agent) refuses %s", (_what, text) => {
    const path = file('agent.json', text);
    const key = Object.keys(JSON.parse(text) as object)[0]!;
    expect(() => parseCommandLine(agent, ['--config', path])).toThrow(
      `--config ${path}: unknown option "${key}"`,
    );
  });

  it('fairpatch serve and witness serve exit 64 with one line naming the key', async () => {
    const path = file('proto.json', PROTO[0][1]);
    for (const args of [
      ['serve', '--config', path],
      ['witness', 'serve', '--config', path],
    ]) {
      const out = await cli(args, { cwd: dir });
      expect(out.code, out.stderr).toBe(64);
      expect(out.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/proto\.json: "__proto__": unknown setting/),
      ]);
    }
  });
});
