import { afterEach, describe, expect, it } from 'vitest';
import { parseVerifierKey } from '../../src/log/note.js';
import { verifySaltEvidence } from '../../src/rollout/evidence.js';
import { releaseId } from '../../src/rollout/lottery.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { verifierKey } from '../../src/log/note.js';
import { type Fixture, MINUTE, createFixture } from '../helpers/repo.js';
import { until } from '../helpers/until.js';
import { stagedRelease, twoStages } from './staged-setup.js';

// GET /log/rollout-salt serves what an agent needs to compute a staged release's salt; the agent
// trusts none of it: the leaf must carry the target as TUF verified it, every checkpoint must be the
// log's and include the leaf, and every pinned witness must have cosigned the one used.

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A release of acme without a plan, signed but not staged yet. */
async function pendingRelease(fx: Fixture) {
  await fx.addVendor('acme');
  const artifact = await fx.artifact('agent.bin', 'patched');
  const releaseAt = fx.clock.now() + MINUTE;
  const envelope = await fx.release('acme', { rollout: undefined }, [artifact], releaseAt);
  return { artifact, releaseAt, envelope };
}

describe('the salt evidence a node serves', () => {
  it('verifies against the log key and the pinned witness, and yields one salt for everyone', async () => {
    const staged = await stagedRelease(cleanup, {
      rollout: {
        stages: twoStages(10),
      },
      artifactName: 'agent.bin',
    });
    const { fx, node, artifact, releaseAt, witness: w } = staged;
    const logVerifier = parseVerifierKey(staged.logKey);
    const target = { path: 'acme/agent.bin', sha256: artifact.sha256 };
    const release = releaseId('acme', 'acme-agent', '2.4.1');
    const ask = (path = target.path) =>
      fetch(`${staged.url}/log/rollout-salt?target=${encodeURIComponent(path)}`);
    // Before its tick the release is not in the log: nothing to draw from yet.
    expect((await ask()).status).toBe(404);

    fx.clock.set(releaseAt);
    await node.evidence.activations();
    const witnesses = [parseVerifierKey(w.witness.verifierKey)];
    const salt = await until('a checkpoint holding the activation is cosigned', async () => {
      const response = await ask();
      if (response.status !== 200) return undefined;
      try {
        return verifySaltEvidence({
          body: await response.json(),
          release,
          target,
          log: logVerifier,
          witnesses,
        });
      } catch {
        return undefined;
      }
    });
    expect(salt).toMatchObject({
      operatorChosen: false,
      witnesses: ['witness/w1'],
      metadataVersion: 2,
    });
    const body = (await (await ask()).json()) as { leaf_index: number };
    // Asked again (another group, another node over the same log): the same salt.
    const again = verifySaltEvidence({ body, release, target, log: logVerifier, witnesses });
    expect(again.salt.equals(salt.salt)).toBe(true);

    // A witness the agent pins that never cosigned: not ready, never another salt.
    const stranger = parseVerifierKey(verifierKey('w9', generateKeyPair().publicKey));
    expect(() =>
      verifySaltEvidence({
        body,
        release,
        target,
        log: logVerifier,
        witnesses: [...witnesses, stranger],
      }),
    ).toThrow(/cosigned by every pinned witness/);
    // Another artifact than TUF verified, a leaf moved, a proof altered: refused.
    expect(() =>
      verifySaltEvidence({
        body,
        release,
        target: { ...target, sha256: '0'.repeat(64) },
        log: logVerifier,
        witnesses,
      }),
    ).toThrow(/does not carry/);
    expect(() =>
      verifySaltEvidence({
        body: { ...body, leaf_index: body.leaf_index - 1 },
        release,
        target,
        log: logVerifier,
        witnesses,
      }),
    ).toThrow(/inclusion proof/);
    // Hostile queries: a clear 400, never a 500.
    for (const bad of ['../etc', 'acme', 'acme/../x', `acme/${'a'.repeat(200)}`]) {
      const response = await ask(bad);
      expect(response.status, bad).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'QUERY_INVALID',
      );
    }
    expect((await ask('acme/unknown.bin')).status).toBe(404);
  });

  it('without witnesses the salt is the log signature, marked chosen by the operator', async () => {
    const fx = await createFixture();
    cleanup.push(() => fx.close());
    const { artifact, releaseAt, envelope } = await pendingRelease(fx);
    await fx.node.repo.stageVendorMetadata('acme', envelope);
    fx.clock.set(releaseAt);
    await fx.node.evidence.activations();
    const response = await fx.node.app.request('/log/rollout-salt?target=acme%2Fagent.bin');
    expect(response.status).toBe(200);
    const salt = verifySaltEvidence({
      body: await response.json(),
      release: releaseId('acme', 'acme-agent', '2.4.1'),
      target: { path: 'acme/agent.bin', sha256: artifact.sha256 },
      log: parseVerifierKey(fx.node.logVerifierKey),
      witnesses: [],
    });
    expect(salt).toMatchObject({ operatorChosen: true, witnesses: [] });
  });
});
