import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

// The systemd units in packaging/: systemd itself checks them where it is installed (any warning
// fails, an unknown key included); everywhere, each unit's ExecStart runs a fairpatch command with
// flags that command knows, so a renamed flag cannot leave a unit that fails at boot. The agent's
// unit starts the executable its .deb installs: systemd-analyze checks it in the unpacked package,
// where that executable exists (test/packaging/deb.test.ts).

const DIR = new URL('../../packaging/', import.meta.url).pathname;
const UNITS = readdirSync(DIR).filter((f) => f.endsWith('.service'));
const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;
/** ExecStart's program, before the fairpatch command: node and the built CLI, or the agent's launcher. */
const PROGRAM = /(dist\/cli\/main\.js|\/fairpatch-agent-start)$/;
const VERIFIED_IN_PACKAGE = new Set(['fairpatch-agent.service']);

/** Key=value lines by section, as systemd reads them (comments and blank lines skipped). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const [n, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${n + 1} is not key=value in a section: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

describe.each(UNITS)('packaging/%s', (unit) => {
  const text = readFileSync(join(DIR, unit), 'utf8');
  const sections = parseUnit(text);

  it('has a Unit, a Service that stops on SIGTERM and restarts on failure, and an Install', () => {
    expect([...sections.keys()]).toEqual(['Unit', 'Service', 'Install']);
    const service = sections.get('Service')!;
    expect(service.get('KillSignal')).toEqual(['SIGTERM']);
    expect(service.get('Restart')).toEqual(['on-failure']);
    expect(service.get('ExecStart')).toHaveLength(1);
  });

  it('runs a fairpatch command with flags that command knows', async () => {
    const exec = sections.get('Service')!.get('ExecStart')![0]!.split(/\s+/);
    const main = exec.findIndex((a) => PROGRAM.test(a));
    expect(main).toBeGreaterThanOrEqual(0);
    const args = exec.slice(main + 1);
    const command = args.slice(
      0,
      args.findIndex((a) => a.startsWith('--')),
    );
    const help = await cli([...command, '--help']);
    expect(help.code, help.stderr).toBe(0);
    for (const flag of args.filter((a) => a.startsWith('--')))
      expect(help.stdout, `${command.join(' ')} ${flag}`).toContain(`${flag} `);
  });
});

// The agent's unit starts the executable its .deb installs: test/packaging/deb.test.ts verifies it there.
describe.each(UNITS.filter((u) => !VERIFIED_IN_PACKAGE.has(u)))('packaging/%s', (unit) => {
  it('passes systemd-analyze verify without a warning', () => {
    expect(hasSystemd, 'systemd-analyze: run bash scripts/install-system-packages.sh').toBe(true);
    const result = spawnSync('systemd-analyze', ['verify', join(DIR, unit)], { encoding: 'utf8' });
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

// The node's and the witness's units run node from the system: they check its version first.
const CHECKING_RUNTIME = UNITS.filter((u) =>
  parseUnit(readFileSync(join(DIR, u), 'utf8'))
    .get('Service')!
    .has('ExecStartPre'),
);
describe.each(CHECKING_RUNTIME)('packaging/%s', (unit) => {
  it('checks the runtime first with a script of this repository that this node passes', () => {
    const [node, script, ...rest] = parseUnit(readFileSync(join(DIR, unit), 'utf8'))
      .get('Service')!
      .get('ExecStartPre')![0]!
      .split(/\s+/);
    expect([node, script, rest]).toEqual([
      '/usr/bin/node',
      '/opt/fairpatch/scripts/check-runtime.mjs',
      [],
    ]);
    const local = new URL(`../../${script!.slice('/opt/fairpatch/'.length)}`, import.meta.url);
    const result = spawnSync(process.execPath, [local.pathname], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});

it('the node and the witness units check the runtime', () => {
  expect(CHECKING_RUNTIME.sort()).toEqual(['fairpatch-node.service', 'fairpatch-witness.service']);
});

it('systemd-analyze fails a unit with an unknown key: the check can fail', () => {
  expect(hasSystemd, 'systemd-analyze: run bash scripts/install-system-packages.sh').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-unit-'));
  try {
    const bad = join(dir, UNITS[0]!);
    const unit = readFileSync(join(DIR, UNITS[0]!), 'utf8');
    writeFileSync(bad, unit.replace('Restart=on-failure', 'Restart=on-failure\nBogusKey=1'));
    const result = spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8' });
    expect(result.stderr).toMatch(/Unknown key 'BogusKey'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
