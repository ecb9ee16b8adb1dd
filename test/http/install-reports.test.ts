import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signInstallReport } from '../../src/common/install-report.js';
import { type Fixture, MINUTE, createFixture, installReport, listen } from '../helpers/repo.js';

let fx: Fixture | undefined;
let server: { url: string; close(): Promise<void> } | undefined;
afterEach(async () => {
  await server?.close();
  await fx?.close();
  server = fx = undefined;
});

async function serve(extra: Parameters<Fixture['openNode']>[0] = {}): Promise<string> {
  fx = await createFixture();
  const node = await fx.openNode(extra);
  server = await listen(node.app);
  return server.url;
}

const post = async (url: string, init: RequestInit) => {
  const response = await fetch(`${url}/api/v1/reports`, init);
  const body = (await response.json()) as { error?: { code: string } };
  return { status: response.status, code: body.error?.code };
};

describe('install reports', () => {
  it('counts only reports an agent key signed: unsigned, altered or re-labelled ones are refused', async () => {
    const url = await serve();
    const now = fx!.clock.now();
    // The old unsigned shape.
    expect(
      await post(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          group: 'eu',
          client: 'c',
          product: 'p',
          version: '1',
          outcome: 'installed',
        }),
      }),
    ).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    // Signed, then re-labelled to another group.
    const signed = JSON.parse(installReport({}, now).body as string) as {
      report: { group: string };
    };
    signed.report.group = 'us';
    expect(
      await post(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(signed),
      }),
    ).toMatchObject({ status: 422, code: 'SIGNATURE_INVALID' });
    // A report signed long ago (a replay) is refused; a fresh one is counted.
    expect(await post(url, installReport({}, now - 2 * 60 * MINUTE))).toMatchObject({
      status: 400,
    });
    expect(await post(url, installReport({}, now))).toMatchObject({ status: 201 });
  });

  it('are readable by the operator only', async () => {
    const url = await serve();
    expect(await post(url, installReport({}, fx!.clock.now()))).toMatchObject({ status: 201 });
    expect((await fetch(`${url}/api/v1/reports`)).status).toBe(401);
    const vendor = await fx!.addVendor('acme');
    const asVendor = await fetch(`${url}/api/v1/reports`, {
      headers: { authorization: `Bearer ${vendor.token}` },
    });
    expect(asVendor.status).toBe(403);
    const asOperator = await fetch(`${url}/api/v1/reports`, {
      headers: { authorization: `Bearer ${fx!.operatorToken}` },
    });
    expect(asOperator.status).toBe(200);
    expect(await asOperator.json()).toEqual({
      reports: [{ group: 'eu', product: 'p', version: '1', outcome: 'installed', count: 1 }],
    });
  });

  it('are budgeted like receipts: unvouched keys share one pool per minute, a key has its own budget, undeclared groups are refused', async () => {
    const vouchedSeed = randomBytes(32);
    const vouchedKey = ed25519PublicKey(vouchedSeed).toString('hex');
    const url = await serve({
      unvouchedReceiptsPerMinute: 3,
      receiptsPerKeyPerMinute: 5,
      vouched: (agent) => agent === vouchedKey,
    });
    const now = fx!.clock.now();
    const flood = [];
    for (let i = 0; i < 5; i++) flood.push((await post(url, installReport({}, now))).status);
    expect(flood).toEqual([201, 201, 201, 429, 429]);
    const own = [];
    for (let i = 0; i < 6; i++)
      own.push((await post(url, installReport({}, now + i, vouchedSeed))).status);
    expect(own).toEqual([201, 201, 201, 201, 201, 429]);

    await fx!.node.appDeps.declareGroups!(['us']);
    fx!.clock.advance(MINUTE);
    const seed = randomBytes(32);
    const report = (group: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        signInstallReport(
          {
            v: 1,
            agent: ed25519PublicKey(seed).toString('hex'),
            group,
            product: 'p',
            version: '1',
            outcome: 'failed',
            at: new Date(fx!.clock.now()).toISOString(),
          },
          seed,
        ),
      ),
    });
    expect(await post(url, report('junk-1'))).toMatchObject({
      status: 422,
      code: 'GROUP_UNDECLARED',
    });
    expect(await post(url, report('us'))).toMatchObject({ status: 201 });
  });

  it('one GET answers at most 10,000 rows and says when there are more', async () => {
    const url = await serve();
    const rows = Array.from({ length: 10_001 }, (_, i) => ({
      grp: 'eu',
      product: 'p',
      version: `1.0.${i}`,
      outcome: 'installed' as const,
      count: 1,
      updated_at: 0,
    }));
    for (let i = 0; i < rows.length; i += 500)
      await fx!.node.db
        .insertInto('install_reports')
        .values(rows.slice(i, i + 500))
        .execute();
    const response = await fetch(`${url}/api/v1/reports`, {
      headers: { authorization: `Bearer ${fx!.operatorToken}` },
    });
    const body = (await response.json()) as { truncated?: boolean; reports: unknown[] };
    expect(body.truncated).toBe(true);
    expect(body.reports).toHaveLength(10_000);
  });
});
