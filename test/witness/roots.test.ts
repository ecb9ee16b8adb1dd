import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import { signObservation } from '../../src/common/observation.js';
import { systemClock } from '../../src/common/clock.js';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateRepositoryKeys, rotateRoot } from '../../src/keys/keygen.js';
import { canonicalBytes } from '../../src/common/canonical.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import type { Envelope, RootSigned } from '../../src/tuf/metadata.js';
import { sha256Hex, signEnvelope } from '../../src/tuf/metadata.js';
import { buildTimestamp } from '../../src/tuf/roles.js';
import { randomBytes } from 'node:crypto';
import { listen } from '../helpers/repo.js';
import { postReceipts, readRoot, startWitness } from '../helpers/witness.js';

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A batch of one agent-signed receipt about a timestamp signed by `key`. */
function batchSignedBy(key: ReturnType<typeof generateKeyPair>) {
  const document = JSON.parse(
    JSON.stringify(signEnvelope(buildTimestamp(7, Date.now() + 600_000, { version: 1 }), [key])),
  ) as Record<string, unknown>;
  const digest = sha256Hex(canonicalBytes(document));
  const seed = randomBytes(32);
  const at = new Date().toISOString();
  const receipt = signObservation(
    {
      v: 1,
      agent: ed25519PublicKey(seed).toString('hex'),
      group: 'eu-west',
      document: digest,
      first_at: at,
      last_at: at,
      polls: 1,
      via: '/g/eu-west',
      lag_ms: 0,
    },
    seed,
  );
  return { documents: { [digest]: document }, receipts: [receipt] };
}

/** Serves `/metadata/N.root.json` from a map, like the repository node the witness follows. */
async function rootServer(roots: Map<number, unknown>): Promise<string> {
  const app = new Hono();
  app.get('/metadata/:file', (c) => {
    const root = roots.get(Number(/^(\d+)\.root\.json$/.exec(c.req.param('file'))?.[1]));
    return root
      ? c.json(root)
      : c.json({ error: { code: 'NOT_FOUND', message: 'no such root' } }, 404);
  });
  const http = await listen(app);
  cleanup.push(() => http.close());
  return http.url;
}

describe('the witness follows the repository root', () => {
  it('accepts documents under a rotated timestamp key once it checked the successor root, never under a root the old keys did not sign', async () => {
    const keys = mkdtempSync(join(tmpdir(), 'fp-witness-roots-'));
    cleanup.push(async () => rmSync(keys, { recursive: true, force: true }));
    generateRepositoryKeys({ dir: keys, now: Date.now() });
    const roots = new Map<number, unknown>();
    const url = await rootServer(roots);
    const { httpRootSource } = await import('../../src/witness/roots.js');
    const w = await startWitness(keys, systemClock, {
      roots: httpRootSource(url),
      rootRefreshMs: 0,
    });
    cleanup.push(() => w.close());

    // A forged root 2 (signed by an attacker's key only) naming the attacker's timestamp key.
    const attacker = generateKeyPair();
    const forged = JSON.parse(JSON.stringify(readRoot(keys))) as Envelope<RootSigned>;
    forged.signed.version = 2;
    roots.set(2, signEnvelope(forged.signed, [attacker]));
    // Looked up on the unknown key, and refused: the old root's keys did not sign it.
    const refused = await postReceipts(w.url, batchSignedBy(attacker));
    expect(w.witness.roots.version).toBe(1);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('RECEIPT_INVALID');

    // The real root 2, signed by the old root keys and the new, rotating the timestamp key.
    rotateRoot({ dir: keys, now: Date.now(), rotate: ['timestamp'] });
    roots.set(2, JSON.parse(readFileSync(join(keys, '2.root.json'), 'utf8')));
    const accepted = await postReceipts(
      w.url,
      batchSignedBy(readPrivateKey(join(keys, 'timestamp-v2.key'))),
    );
    expect(accepted.status).toBe(201);
    expect(w.witness.roots.version).toBe(2);
    // Receipts under the first root's key still count: receipts outlive rotations.
    expect(
      (await postReceipts(w.url, batchSignedBy(readPrivateKey(join(keys, 'timestamp.key')))))
        .status,
    ).toBe(201);
  });
});
