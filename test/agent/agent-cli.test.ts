import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startServer } from '../helpers/cli.js';

/** Waits (bounded) until the server's tick reaches `tick`: the only wait is for the real clock to get there. */
async function untilTick(url: string, tick: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { tick: now } = (await (await fetch(`${url}/healthz`)).json()) as { tick: number };
    if (now >= tick) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tick ${tick} not reached`);
}

describe('fairpatch agent --once against a real server process', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof startServer>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-agent-cli-'));
    // A demo repository whose only manifest is released 4 s after start (the dev seed brings it
    // forward by the 30 s lead time).
    mkdirSync(join(dir, 'manifests'));
    cpSync(new URL('../../manifests/artifacts', import.meta.url).pathname, join(dir, 'manifests', 'artifacts'), { recursive: true });
    const manifest = JSON.parse(readFileSync(new URL('../../manifests/acme-agent-2.4.1.json', import.meta.url), 'utf8'));
    writeFileSync(join(dir, 'manifests', 'fix.json'), JSON.stringify({ ...manifest, release_at: '+34s' }));
    server = await startServer(['--dev', '--data', join(dir, 'data'), '--keys', join(dir, 'keys')], { cwd: dir });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('installs after the release tick and not before, runs the install command once, keeps receipts', async () => {
    const activation = Date.parse(/live from (\S+)\)/.exec(server.output())?.[1] ?? '');
    expect(Number.isFinite(activation)).toBe(true);
    const marker = join(dir, 'installed.log');
    const config = join(dir, 'agent.json');
    writeFileSync(config, JSON.stringify({ server: server.url, group: 'eu-west', root: join(dir, 'keys', '1.root.json'), state: join(dir, 'agent'), product: 'acme/acme-agent', platform: 'linux-x64', 'current-version': '2.3.1' }));
    const run = () => cli(['agent', '--config', config, '--once', '--install', `echo "$FAIRPATCH_VERSION" >> ${marker}`]);

    const before = await run();
    expect(before.code, before.stderr).toBe(0);
    expect(Date.now(), 'the first poll must happen before the release (4 s after start)').toBeLessThan(activation);
    expect(before.stdout).toMatch(/no patch for product acme-agent signed by vendor acme/);

    const { tick } = (await (await fetch(`${server.url}/healthz`)).json()) as { tick: number };
    await untilTick(server.url, tick + Math.ceil((activation - Date.now()) / 1000) + 1);
    const after = await run();
    expect(after.stdout).toMatch(/installed acme-agent 2\.4\.1/);
    const again = await run();
    expect(again.stdout).toMatch(/up to date/);
    expect(readFileSync(marker, 'utf8')).toBe('2.4.1\n');

    const exported = await cli(['agent', 'receipts', 'export', '--state', join(dir, 'agent')]);
    const { receipts } = JSON.parse(exported.stdout) as { receipts: Array<{ document: { signed: { _type: string } } }> };
    expect(receipts.length).toBe(3);
    expect(receipts.every((r) => r.document.signed._type === 'timestamp')).toBe(true);
  });

  it('prints one line naming the threat and exits 1 when it refuses', async () => {
    const result = await cli(['agent', '--server', 'http://127.0.0.1:1', '--group', 'eu-west', '--root', join(dir, 'keys', '1.root.json'), '--state', join(dir, 'agent2'), '--product', 'acme/acme-agent', '--platform', 'linux-x64', '--current-version', '2.3.1', '--once']);
    expect(result.code).toBe(1);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stdout).toMatch(/^REFUSED: server unreachable/);
  });
});
