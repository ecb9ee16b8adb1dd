import { afterEach, describe, expect, it } from 'vitest';
import type { AuditOutcome } from '../../src/audit/run.js';
import { activationTick } from '../../src/common/tick.js';
import { readOnlineKeys } from '../../src/keys/keygen.js';
import { buildSnapshot, buildTimestamp } from '../../src/tuf/roles.js';
import { envelopeBytes, metaFile, signEnvelope } from '../../src/tuf/metadata.js';
import { isoSeconds } from '../../src/tuf/time.js';
import { DIALECTS, type Dialect, freshDatabase } from '../helpers/dialects.js';
import {
  type Rewrite,
  adversary,
  auditOverHttp,
  pollGroupsByHand,
} from '../helpers/audit-scenario.js';
import { declareVouched } from '../helpers/owners.js';
import { type Fixture, SECOND, createFixture } from '../helpers/repo.js';

const GROUPS = ['eu-west', 'us-east', 'ap-south'];
const ID = 'GHSA-f41r-pa7c-h000';
const MEMBERS = ['acme', 'globex', 'quill'];

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/**
 * An embargo of three vendors at +60 s (globex left out, not ready), three groups polling every 5 s at
 * different phases, through `rewrite` (the adversary, when given), then one audit over HTTP.
 */
async function scenario(
  dialect: Dialect,
  makeAdversary?: (fx: Fixture, tick: number) => { rewrite: Rewrite; pollAllAt: number },
): Promise<{ fx: Fixture; tick: number; audit: () => Promise<AuditOutcome> }> {
  const fx = await createFixture({ databaseUrl: await freshDatabase(dialect) });
  cleanup.push(() => fx.close());
  for (const v of MEMBERS) await fx.addVendor(v);
  const start = fx.clock.now();
  const releaseAt = start + 60 * SECOND;
  const api = (method: string, path: string, token: string, body: unknown) =>
    fx.node.app.request(`/api/v1${path}`, {
      method,
      body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
  expect(
    (
      await api('POST', '/embargoes', fx.operatorToken, {
        id: ID,
        release_at: isoSeconds(releaseAt),
        members: MEMBERS,
      })
    ).status,
  ).toBe(201);
  for (const v of ['acme', 'quill']) {
    const fix = await fx.release(
      v,
      { product: `${v}-lib`, version: '1.0.1', applies_to: '<1.0.1' },
      [await fx.artifact(`${v}-lib.sh`, `echo ${v}\n`, 'any', v)],
      releaseAt,
    );
    expect(
      (await api('POST', `/vendors/${v}/metadata?embargo=${ID}`, fx.vendors.get(v)!.token, fix))
        .status,
    ).toBe(201);
  }
  expect(
    (await api('POST', `/embargoes/${ID}/decide`, fx.operatorToken, { leave_out: ['globex'] }))
      .status,
  ).toBe(200);
  const owners = await declareVouched(fx, GROUPS);

  const tick = activationTick(fx.node.repo.config, releaseAt);
  const plan = makeAdversary?.(fx, tick);
  await pollGroupsByHand(fx, adversary(fx, plan?.rewrite ?? (() => undefined)), {
    groups: GROUPS,
    from: start,
    to: start + 90 * SECOND,
    pollAllAt: plan?.pollAllAt,
    owners,
  });
  return { fx, tick, audit: await auditOverHttp(fx, cleanup) };
}

describe('the audit of an embargo, per advisory', () => {
  it.each(DIALECTS)(
    '%s: honest: every shipped member in one snapshot at the embargo tick, the left-out member shown, FAIR',
    async (dialect) => {
      const { audit, tick, fx } = await scenario(dialect);
      const outcome = await audit();
      expect(outcome.error).toBeUndefined();
      expect(outcome.report!.findings).toEqual([]);
      expect(outcome.report!.verdict).toBe('FAIR');
      const [embargo] = outcome.report!.embargoes;
      expect(embargo).toMatchObject({
        id: ID,
        tick,
        leftOut: ['globex'],
        snapshotVersion: fx.node.repo.view.snapshotVersionAt(tick),
        decisions: [{ decision: 'left-out', member: 'globex', activation_tick: tick }],
      });
      expect(embargo!.members.globex!.status).toBe('left-out');
      for (const v of ['acme', 'quill']) {
        expect(embargo!.members[v]).toMatchObject({
          status: 'shipped',
          release: `${v}/2`,
          activationTick: tick,
        });
        expect(Object.keys(embargo!.members[v]!.groups).sort()).toEqual([...GROUPS].sort());
      }
    },
  );

  it('UNFAIR, as proof, when a node serves one member a tick early (a timestamp for the tick before, signed with the real keys)', async () => {
    const { audit } = await scenario('sqlite', (fx, tick) => {
      const keys = readOnlineKeys(fx.keysDir, fx.node.repo.latestRoot());
      const view = () => fx.node.repo.view;
      return {
        pollAllAt: tick - 1,
        rewrite: (group, k) => {
          if (group !== 'ap-south' || k !== tick - 1) return undefined;
          // The adversarial node's snapshot: the honest one of the tick before, plus quill's new version only.
          const before = JSON.parse(view().snapshotAt(k).bytes.toString()) as {
            signed: { meta: Record<string, unknown> };
          };
          const quill = view().state.vendors.get('quill')!.at(-1)!;
          const version = view().snapshotVersionAt(tick);
          const snapshot = envelopeBytes(
            signEnvelope(
              buildSnapshot(version, fx.clock.now() + 86_400_000, {
                ...(before.signed.meta as Record<string, ReturnType<typeof metaFile>>),
                'quill.json': metaFile(quill.version, quill.bytes!),
              }),
              [keys.snapshot],
            ),
          );
          return envelopeBytes(
            signEnvelope(
              buildTimestamp(
                k,
                fx.clock.now() + 300_000,
                metaFile(version, snapshot),
                fx.node.repo.config,
              ),
              [keys.timestamp],
            ),
          );
        },
      };
    });
    const outcome = await audit();
    expect(outcome.exitCode).toBe(1);
    const early = outcome.report!.findings.filter((f) => f.kind === 'early-release');
    expect(early.map((f) => f.release)).toContain('quill/2');
    for (const f of early)
      expect(f).toMatchObject({ class: 'proof', unfair: true, group: 'ap-south' });
    const [embargo] = outcome.report!.embargoes;
    expect(embargo!.members.quill!.status).toBe('early');
  });
});
