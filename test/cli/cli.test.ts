import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startServer } from '../helpers/cli.js';
import { tufClient } from '../helpers/tuf-client.js';
import { until } from '../helpers/until.js';

const OPERATOR = 'operator-token-for-tests-0123456789';

describe('the fairpatch CLI against a real server process', () => {
  let dir: string;
  let keys: string;
  /** The vendor's own directory: the operator's side (keys/) never holds a vendor key. */
  let vendorKeys: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let vendorToken: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fairpatch-cli-'));
    keys = join(dir, 'keys');
    vendorKeys = join(dir, 'vendor-keys');
    expect((await cli(['keygen', '--keys', keys])).code).toBe(0);
    expect((await cli(['keygen', '--keys', vendorKeys, '--vendor', 'acme'])).code).toBe(0);
    // A short lead time: a new root takes effect one lead time after it is posted.
    server = await startServer(['--data', join(dir, 'data'), '--keys', keys, '--min-lead', '2s'], {
      env: { FAIRPATCH_OPERATOR_TOKEN: OPERATOR },
    });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A command run as the operator against the server. */
  const asOperator = (args: string[]) =>
    cli([...args, '--server', server.url, '--token', OPERATOR]);
  /** A command run as the vendor against the server, signing with `key`. */
  const asVendor = (args: string[], key: string, token = vendorToken) =>
    cli([...args, '--server', server.url, '--key', key, '--token', token]);
  /** `fairpatch audit` of the server with the pinned root 1, keeping its state in `state`. */
  const auditArgs = (state: string, logKey = join(keys, 'log.vkey')) => [
    'audit',
    '--server',
    server.url,
    '--state',
    state,
    '--log-key',
    logKey,
    '--root',
    join(keys, '1.root.json'),
  ];

  it('keygen writes private keys with mode 0600 and refuses to overwrite them', async () => {
    for (const name of ['targets.key', 'snapshot.key', 'timestamp.key', 'log.key']) {
      expect(statSync(join(keys, name)).mode & 0o777).toBe(0o600);
    }
    expect(statSync(join(vendorKeys, 'acme.key')).mode & 0o777).toBe(0o600);
    const again = await cli(['keygen', '--keys', keys]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/ALREADY_EXISTS/);
  });

  it('adds a vendor, publishes a manifest and halts it; nothing is public before its release', async () => {
    // The vendor signs a request with its own key; the operator registers it with nothing else.
    const request = join(dir, 'acme.request.json');
    const requested = await cli([
      'vendor',
      'request',
      '--key',
      join(vendorKeys, 'acme.key'),
      '--out',
      request,
    ]);
    expect(requested.code, requested.stderr).toBe(0);
    expect(readFileSync(request, 'utf8')).not.toMatch(/private/);
    const added = await asOperator(['vendor', 'add', '--request', request, '--keys', keys]);
    expect(added.code, added.stderr).toBe(0);
    vendorToken = JSON.parse(added.stdout).token;

    writeFileSync(join(dir, 'fix.sh'), '#!/bin/sh\necho fixed\n');
    const manifest = {
      vendor: 'acme',
      product: 'acme-agent',
      version: '2.4.1',
      severity: 'critical',
      cves: ['CVE-2026-31337'],
      applies_to: '<2.4.1',
      release_at: '+5m',
      artifacts: [{ platform: 'linux-x64', file: 'fix.sh', name: 'acme-agent-2.4.1.sh' }],
    };
    writeFileSync(join(dir, 'fix.json'), JSON.stringify(manifest));
    const published = await cli([
      'publish',
      join(dir, 'fix.json'),
      '--server',
      server.url,
      '--key',
      join(vendorKeys, 'acme.key'),
      '--token',
      vendorToken,
    ]);
    expect(published.code, published.stderr).toBe(0);
    const result = JSON.parse(published.stdout);
    expect(result).toMatchObject({
      vendor: 'acme',
      product: 'acme-agent',
      productVersion: '2.4.1',
      version: 2,
      targets: ['acme/acme-agent-2.4.1.sh'],
    });
    expect(published.stderr).toMatch(
      /^published acme-agent 2\.4\.1 \(acme metadata version 2\); live from \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/,
    );
    expect(Date.parse(result.activatesAt) - Date.now()).toBeGreaterThan(4 * 60_000);

    expect((await fetch(`${server.url}/metadata/2.acme.json`)).status).toBe(404);
    const updater = tufClient(server.url, 'eu-west', join(keys, '1.root.json')).updater();
    await updater.refresh();

    const halted = await asVendor(['halt', 'acme', '2.4.1'], join(vendorKeys, 'acme.key'));
    expect(halted.code, halted.stderr).toBe(0);
    expect(JSON.parse(halted.stdout)).toMatchObject({
      version: 3,
      removed: ['acme/acme-agent-2.4.1.sh'],
      kind: 'halt',
    });

    const wrongKey = await cli([
      'publish',
      join(dir, 'fix.json'),
      '--server',
      server.url,
      '--key',
      join(keys, 'timestamp.key'),
      '--token',
      vendorToken,
    ]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/SIGNATURE_INVALID/);

    // A token of the wrong shape was still given: the refusal must not claim it is missing.
    const badToken = await asVendor(
      ['publish', join(dir, 'fix.json')],
      join(vendorKeys, 'acme.key'),
      'not-a-token',
    );
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/unknown or revoked token; check --token/);
    expect(badToken.stderr).not.toMatch(/missing|BAD_REQUEST/);
  });

  it('refuses a registration request signed by another key, and a vendor name that is a path', async () => {
    expect((await cli(['keygen', '--keys', vendorKeys, '--vendor', 'globex'])).code).toBe(0);
    const forged = join(dir, 'forged.request.json');
    expect(
      (await cli(['vendor', 'request', '--key', join(vendorKeys, 'globex.key'), '--out', forged]))
        .code,
    ).toBe(0);
    const body = JSON.parse(readFileSync(forged, 'utf8'));
    body.public_key = JSON.parse(readFileSync(join(vendorKeys, 'acme.pub'), 'utf8'));
    writeFileSync(forged, JSON.stringify(body));
    const refused = await asOperator(['vendor', 'add', '--request', forged, '--keys', keys]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/SIGNATURE_INVALID/);

    const evil = await cli(['keygen', '--keys', vendorKeys, '--vendor', '../evil']);
    expect(evil.code).not.toBe(0);
    expect(evil.stderr).toMatch(/vendor: lowercase/);
    expect(existsSync(join(dir, 'evil.key'))).toBe(false);
  });

  it('audits the server over HTTP: FAIR, with a JSON and an HTML report, exit 0', async () => {
    const state = join(dir, 'audit');
    // The audit must cover every group the operator declares: without a declaration it cannot verify.
    const undeclared = await cli(auditArgs(join(dir, 'audit-undeclared')));
    expect(undeclared.code, undeclared.stdout).toBe(2);
    expect(undeclared.stdout).toMatch(/CANNOT VERIFY groups-undeclared/);
    const declared = await asOperator(['groups', 'declare', 'eu-west,us-east']);
    expect(declared.code, declared.stderr).toBe(0);
    const args = auditArgs(state);
    const outcome = await cli([
      ...args,
      '--json',
      join(dir, 'report.json'),
      '--html',
      join(dir, 'report.html'),
    ]);
    expect(outcome.code, outcome.stderr + outcome.stdout).toBe(0);
    expect(outcome.stdout).toMatch(/^FAIR/);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(report.releases.map((r: { id: string }) => r.id)).toEqual(['acme/2']);
    // The release is still pending: listed, its contents sealed, no delivery chart yet.
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toMatch(/data-release="acme\/2"/);
    // A second run checks consistency with the checkpoint the first one saved.
    expect((await cli(args)).code).toBe(0);
    // A log key the auditor does not pin: cannot verify.
    const wrong = await cli(auditArgs(state, join(vendorKeys, 'acme.pub')));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/CANNOT VERIFY/);
  });

  it('rotates a vendor key from a request the vendor signed with the new key; the old key is refused at once', async () => {
    expect((await cli(['keygen', '--keys', vendorKeys, '--vendor', 'acme-next'])).code).toBe(0);
    const request = join(dir, 'acme.rotate.json');
    const requested = await cli([
      'vendor',
      'request',
      '--rotate',
      '--name',
      'acme',
      '--key',
      join(vendorKeys, 'acme-next.key'),
      '--server',
      server.url,
      '--token',
      vendorToken,
      '--out',
      request,
    ]);
    expect(requested.code, requested.stderr).toBe(0);
    const rotated = await asOperator(['vendor', 'rotate', '--request', request, '--keys', keys]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ name: 'acme' });
    const manifest = join(dir, 'next.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        ...JSON.parse(readFileSync(join(dir, 'fix.json'), 'utf8')),
        version: '2.4.2',
        applies_to: '<2.4.2',
        artifacts: [{ platform: 'linux-x64', file: 'fix.sh', name: 'acme-agent-2.4.2.sh' }],
      }),
    );
    const old = await asVendor(['publish', manifest], join(vendorKeys, 'acme.key'));
    expect(old.stderr).toMatch(/SIGNATURE_INVALID/);
    const fresh = await asVendor(['publish', manifest], join(vendorKeys, 'acme-next.key'));
    expect(fresh.code, fresh.stderr).toBe(0);
  });

  it('rotates root 1-of-1 to 2-of-3 with a new timestamp key, and a client that trusts root 1 follows', async () => {
    const client = tufClient(server.url, 'eu-west', join(keys, '1.root.json'));
    await client.updater().refresh();
    const rotated = await asOperator([
      'root',
      'rotate',
      '--keys',
      keys,
      '--root-keys',
      '3',
      '--root-threshold',
      '2',
      '--rotate',
      'timestamp',
    ]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const root2 = JSON.parse(readFileSync(join(keys, '2.root.json'), 'utf8'));
    expect(root2.signed.roles.root).toMatchObject({ threshold: 2 });
    expect(root2.signed.roles.root.keyids).toHaveLength(3);
    // Old threshold (1 key) + new threshold (2 of 3 present, all 3 sign).
    expect(root2.signatures.length).toBeGreaterThanOrEqual(3);

    // Root 2 is not served before its tick; from then on the client follows.
    const activatesAt = Date.parse(JSON.parse(rotated.stdout).activatesAt);
    expect(activatesAt).toBeGreaterThan(Date.now());
    const trustedRoot = async () => {
      await client.updater().refresh();
      return JSON.parse(readFileSync(join(client.dir, 'metadata', 'root.json'), 'utf8')) as {
        signed: { version: number };
      };
    };
    const trusted = await until('the client to trust root 2', async () =>
      (await trustedRoot()).signed.version === 2 ? trustedRoot() : undefined,
    );
    expect(Date.now()).toBeGreaterThanOrEqual(activatesAt);
    expect(trusted.signed.version).toBe(2);
    const timestamp = JSON.parse(
      readFileSync(join(client.dir, 'metadata', 'timestamp.json'), 'utf8'),
    );
    expect(timestamp.signatures[0].keyid).toBe(root2.signed.roles.timestamp.keyids[0]);

    // Then the snapshot key, signed by 2 of the 3 new root keys: the same client follows again.
    const again = await asOperator(['root', 'rotate', '--keys', keys, '--rotate', 'snapshot']);
    expect(again.code, again.stderr).toBe(0);
    const root3 = JSON.parse(readFileSync(join(keys, '3.root.json'), 'utf8'));
    await until('the client to trust root 3', async () =>
      (await trustedRoot()).signed.version === 3 ? true : undefined,
    );
    expect(
      JSON.parse(readFileSync(join(client.dir, 'metadata', 'snapshot.json'), 'utf8')).signatures[0]
        .keyid,
    ).toBe(root3.signed.roles.snapshot.keyids[0]);

    // The auditor carries on too: same pinned root 1, same saved checkpoint, both rotations logged.
    const audit = await cli([...auditArgs(join(dir, 'audit')), '--json', join(dir, 'after.json')]);
    expect(audit.code, audit.stdout + audit.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'after.json'), 'utf8'));
    expect(report.logSize).toBeGreaterThan(0);
  });
});
