import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { buildHalt } from '../../src/publish/build.js';
import { signEnvelope, envelopeBytes } from '../../src/tuf/metadata.js';
import { DIALECTS, freshDatabase } from '../helpers/dialects.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe.each(DIALECTS)('%s: a vendor ships and reads only its own', (dialect) => {
  let fx: Fixture;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
    tokens.acme = (await fx.addVendor('acme')).token;
    tokens.quill = (await fx.addVendor('quill')).token;
  });
  afterAll(() => fx.close());

  const put = (vendor: string, hash: string, body: string, token = tokens[vendor]) =>
    fx.node.app.request(`/api/v1/vendors/${vendor}/blobs/${hash}`, {
      method: 'PUT',
      body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    });
  const stage = (vendor: string, body: unknown) =>
    fx.node.app.request(`/api/v1/vendors/${vendor}/metadata`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${tokens[vendor]}`, 'content-type': 'application/json' },
    });
  const error = async (response: Response) => ({
    status: response.status,
    ...((await response.json()) as { error: { code: string; message: string } }).error,
  });

  it("refuses a target that claims another vendor's product (the hijack)", async () => {
    const fix = await fx.artifact('acme-agent-2.4.1.sh', 'echo acme\n');
    expect(
      (
        await stage(
          'acme',
          await fx.release('acme', { product: 'acme-agent' }, [fix], fx.clock.now() + MINUTE),
        )
      ).status,
    ).toBe(201);
    const stolen = await fx.artifact('stolen.sh', 'echo pwned\n', 'linux-x64', 'quill');
    const hijack = await fx.release(
      'quill',
      { product: 'acme-agent', version: '99.0.0', applies_to: '*' },
      [stolen],
      fx.clock.now() + MINUTE,
    );
    expect(await error(await stage('quill', hijack))).toMatchObject({
      status: 403,
      code: 'PRODUCT_OWNED',
    });
    // quill's own product is quill's: a first publication claims it.
    const own = await fx.release(
      'quill',
      { product: 'libquill', version: '3.8.2', applies_to: '<3.8.2' },
      [stolen],
      fx.clock.now() + MINUTE,
    );
    expect((await stage('quill', own)).status).toBe(201);
    const owners = await fx.node.db
      .selectFrom('products')
      .select(['name', 'vendor'])
      .orderBy('name')
      .execute();
    expect(owners).toEqual([
      { name: 'acme-agent', vendor: 'acme' },
      { name: 'libquill', vendor: 'quill' },
    ]);
  });

  it("cannot reference, confirm or fetch another vendor's pending blob, by any route, before its tick", async () => {
    const secret = 'echo embargoed emergency fix\n';
    const hash = sha256(secret);
    expect(await (await put('acme', hash, secret)).json()).toEqual({
      sha256: hash,
      length: secret.length,
      stored: true,
    });
    const releaseAt = fx.clock.now() + 2 * MINUTE;
    const fix = {
      platform: 'linux-x64',
      name: 'acme-agent-2.4.2.sh',
      path: '',
      length: secret.length,
      sha256: hash,
    };
    const previous = await fx.node.store.latestVendorMetadata('acme');
    const release = signEnvelope(
      {
        ...previous!.signed,
        version: previous!.version + 1,
        targets: {
          ...previous!.signed.targets,
          'acme/acme-agent-2.4.2.sh': {
            length: fix.length,
            hashes: { sha256: hash },
            custom: {
              product: 'acme-agent',
              version: '2.4.2',
              platform: 'linux-x64',
              channel: 'stable',
              severity: 'critical',
              cves: [],
              applies_to: '<2.4.2',
              release_at: new Date(releaseAt).toISOString().replace('.000Z', 'Z'),
            },
          },
        },
      },
      [fx.vendors.get('acme')!.key],
    );
    expect((await stage('acme', JSON.parse(JSON.stringify(release)))).status).toBe(201);

    // No oracle: an upload under acme's hash answers exactly as under a hash nobody holds.
    const unknown = sha256('nobody has these bytes');
    const underSecret = await error(await put('quill', hash, 'guess'));
    const underUnknown = await error(await put('quill', unknown, 'guess'));
    expect({ ...underSecret, message: '' }).toEqual({ ...underUnknown, message: '' });
    expect(underSecret.code).toBe('HASH_MISMATCH');

    // No reference: quill's metadata pointing at acme's hash is refused as if the bytes did not exist.
    const theft = await fx.release(
      'quill',
      { product: 'libquill', version: '3.8.3', applies_to: '<3.8.3' },
      [],
      releaseAt - MINUTE,
    );
    const previousQuill = await fx.node.store.latestVendorMetadata('quill');
    const stealing = signEnvelope(
      {
        ...theft.signed,
        targets: {
          ...previousQuill!.signed.targets,
          'quill/x.sh': {
            length: secret.length,
            hashes: { sha256: hash },
            custom: {
              ...Object.values(previousQuill!.signed.targets)[0]!.custom!,
              version: '3.8.3',
              applies_to: '<3.8.3',
              release_at: new Date(releaseAt - MINUTE).toISOString().replace('.000Z', 'Z'),
            },
          },
        },
      },
      [fx.vendors.get('quill')!.key],
    );
    expect(await error(await stage('quill', JSON.parse(JSON.stringify(stealing))))).toMatchObject({
      status: 422,
      code: 'BLOB_MISSING',
    });

    // No fetch: every target route, every vendor prefix, with and without a group.
    const routes = (name: string) =>
      ['acme', 'quill'].flatMap((v) => [
        `/targets/${v}/${hash}.${name}`,
        `/g/eu-west/targets/${v}/${hash}.${name}`,
      ]);
    for (const path of routes('acme-agent-2.4.2.sh'))
      expect((await fx.node.app.request(path)).status, path).toBe(404);

    // After the tick: only the owner's path serves it.
    fx.clock.set(releaseAt);
    await fx.node.repo.refresh();
    expect((await fx.node.app.request(`/targets/acme/${hash}.acme-agent-2.4.2.sh`)).status).toBe(
      200,
    );
    expect((await fx.node.app.request(`/targets/quill/${hash}.acme-agent-2.4.2.sh`)).status).toBe(
      404,
    );
  });

  it('an upload of bytes another vendor also holds answers as a first upload, and then belongs to both', async () => {
    const shared = 'a public library both vendors ship\n';
    const first = await put('acme', sha256(shared), shared);
    const second = await put('quill', sha256(shared), shared);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(await second.json()).toEqual(await first.json());
    expect(await fx.node.store.blobLength('quill', sha256(shared))).toBe(shared.length);
  });

  it('binds a path to its bytes forever: re-publishing a halted path with other bytes is refused', async () => {
    const v1 = await fx.artifact('tool.sh', 'echo one\n', 'linux-x64', 'quill');
    expect(
      (
        await stage(
          'quill',
          await fx.release(
            'quill',
            { product: 'libquill', version: '3.9.0', applies_to: '<3.9.0' },
            [v1],
            fx.clock.now() + MINUTE,
          ),
        )
      ).status,
    ).toBe(201);
    const previous = (await fx.node.store.latestVendorMetadata('quill'))!.signed;
    const { envelope } = buildHalt({
      vendor: 'quill',
      version: '3.9.0',
      previous,
      vendorKey: fx.vendors.get('quill')!.key,
      now: fx.clock.now(),
    });
    expect((await stage('quill', JSON.parse(JSON.stringify(envelope)))).status).toBe(201);
    const other = await fx.artifact('tool.sh', 'echo two, different bytes\n', 'linux-x64', 'quill');
    const again = await fx.release(
      'quill',
      { product: 'libquill', version: '3.9.1', applies_to: '<3.9.1' },
      [other],
      fx.clock.now() + 2 * MINUTE,
    );
    const refused = await error(await stage('quill', again));
    expect(refused).toMatchObject({ status: 422, code: 'TARGET_IMMUTABLE' });
    expect(refused.message).toMatch(/quill\/tool\.sh .*halted/);
  });

  it('refuses each manifest rule with its field named', async () => {
    const a = await fx.artifact('rules.sh', 'echo rules\n', 'linux-x64', 'quill');
    const cases: Array<[Record<string, string>, number, number, string, RegExp]> = [
      [
        { version: 'banana' },
        MINUTE,
        400,
        'METADATA_INVALID',
        /custom\.version: version: a semantic version/,
      ],
      [
        { applies_to: 'not a range' },
        MINUTE,
        400,
        'METADATA_INVALID',
        /custom\.applies_to: applies_to: a semver range/,
      ],
      [{}, 999_999 * 86_400_000, 422, 'RELEASE_TOO_LATE', /^release_at: /],
      [{}, 5 * SECOND, 422, 'RELEASE_TOO_SOON', /^release_at: /],
    ];
    for (const [manifest, ahead, status, code, message] of cases) {
      const upload = await fx.release(
        'quill',
        { product: 'libquill', version: '4.0.0', applies_to: '<4.0.0', ...manifest },
        [a],
        fx.clock.now() + ahead,
      );
      const refused = await error(await stage('quill', upload));
      expect(refused, JSON.stringify(manifest)).toMatchObject({ status, code });
      expect(refused.message).toMatch(message);
    }
  });
});

describe('an agent facing a compromised repository', () => {
  let fx: Fixture;
  afterAll(() => fx.close());

  it("never installs another vendor's entry for its product, and says what it did", async () => {
    fx = await createFixture();
    await fx.addVendor('acme');
    await fx.addVendor('quill');
    const releaseAt = fx.clock.now() + MINUTE;
    await fx.stage(
      'acme',
      { product: 'acme-agent', version: '2.4.1', applies_to: '<2.4.1' },
      [await fx.artifact('real.sh', 'echo real\n')],
      releaseAt,
    );
    // What a compromised server serves: quill's (validly quill-signed) hijack, stored without staging.
    const hijack = await fx.release(
      'quill',
      { product: 'acme-agent', version: '99.0.0', applies_to: '*' },
      [await fx.artifact('stolen.sh', 'echo pwned\n', 'linux-x64', 'quill')],
      releaseAt,
    );
    await fx.node.store.stageVendorMetadata({
      vendor: 'quill',
      version: hijack.signed.version,
      bytes: envelopeBytes(hijack),
      kind: 'release',
      effectiveAt: releaseAt,
      now: fx.clock.now(),
    });
    await fx.node.repo.refresh();
    fx.clock.set(releaseAt);
    const server = await listen(fx.node.app);
    const lines: string[] = [];
    const state = mkdtempSync(join(tmpdir(), 'fairpatch-hijack-'));
    const marker = join(state, 'ran');
    const agent = new Agent(
      {
        server: server.url,
        group: 'eu-west',
        root: join(fx.keysDir, '1.root.json'),
        stateDir: state,
        vendor: 'acme',
        product: 'acme-agent',
        platform: 'linux-x64',
        currentVersion: '2.3.0',
        channel: 'stable',
        intervalMs: 10 * SECOND,
        install: `echo "$FAIRPATCH_VERSION $(cat "$FAIRPATCH_ARTIFACT")" >> ${marker}`,
        push: false,
      },
      {
        clock: fx.clock,
        log: (l) => lines.push(l),
        fetcher: { attempts: 1, backoffMs: 1, timeoutMs: 5000 },
      },
    );
    try {
      expect(await agent.cycle()).toMatchObject({ outcome: 'installed', version: '2.4.1' });
      expect(readFileSync(marker, 'utf8')).toBe('2.4.1 echo real\n');
      expect(agent.installed()).toMatchObject({
        vendor: 'acme',
        product: 'acme-agent',
        version: '2.4.1',
      });
      expect(await agent.cycle()).toMatchObject({ outcome: 'up-to-date' });
      expect(lines.at(-1)).toMatch(/acme-agent 2\.4\.1 is up to date/);
      // quill's file was never even fetched: only acme's delegation is searched.
      expect(readdirSync(join(state, 'targets')).some((f) => f.includes('stolen'))).toBe(false);
      expect(existsSync(join(state, 'metadata', 'quill.json'))).toBe(false);
    } finally {
      await server.close();
    }
  });
});

describe('data at rest', () => {
  it('a fresh data directory is 0700, its database and blobs 0600', async () => {
    const fx = await createFixture();
    try {
      await fx.addVendor('acme');
      await fx.stage('acme', {}, [await fx.artifact('a.sh', 'echo a\n')], fx.clock.now() + MINUTE);
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect(mode(fx.dataDir)).toBe(0o700);
      for (const f of readdirSync(fx.dataDir).filter((n) => n.startsWith('fairpatch.sqlite')))
        expect(mode(join(fx.dataDir, f)), f).toBe(0o600);
      const blobs = join(fx.dataDir, 'blobs');
      expect(mode(blobs)).toBe(0o700);
      const shard = readdirSync(blobs).find((n) => n !== 'tmp')!;
      expect(mode(join(blobs, shard))).toBe(0o700);
      for (const f of readdirSync(join(blobs, shard)))
        expect(mode(join(blobs, shard, f))).toBe(0o600);
    } finally {
      await fx.close();
    }
  });
});
