import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { readLogKey } from '../../src/keys/keygen.js';
import { openCheckpoint, signCheckpoint } from '../../src/log/checkpoint.js';
import { cosign } from '../../src/log/cosignature.js';
import { generateKeyPair } from '../../src/tuf/keys.js';
import { verifierKey, parseVerifierKey } from '../../src/log/note.js';
import { auditOverHttp } from '../helpers/audit-scenario.js';
import { type Fixture, MINUTE, SECOND, createFixture, listen } from '../helpers/repo.js';

// A split view: the operator shows one group a log other than the one auditors see. The agent signs
// the checkpoint it was served into its receipt; the auditor holds it against the verified log.

let fx: Fixture;
let closers: Array<() => Promise<void>>;
beforeEach(async () => {
  fx = await createFixture();
  await fx.addVendor('acme');
  closers = [];
});
afterEach(async () => {
  for (const c of closers.reverse()) await c();
  await fx.close();
});

/** The node's log checkpoint, re-signed by the operator's own log key over another root: a fork. */
async function forkedCheckpoint(size?: number): Promise<string> {
  const honest = openCheckpoint(
    (await fx.node.log.checkpoint())!,
    parseVerifierKey(fx.node.logVerifierKey),
  );
  const { name, key } = readLogKey(fx.keysDir);
  return signCheckpoint(
    { origin: honest.origin, size: size ?? honest.size, rootHash: Buffer.alloc(32, 7) },
    name,
    key.secretKey,
  );
}

/** The node's app, but /log/checkpoint answers `checkpoint()` when it returns one. */
async function serverShowing(checkpoint: () => Promise<string | undefined>): Promise<string> {
  const app = new Hono();
  app.get('/log/checkpoint', async (c) => {
    const forged = await checkpoint();
    return forged ? c.text(forged) : fx.node.app.fetch(c.req.raw);
  });
  app.all('*', (c) => fx.node.app.fetch(c.req.raw));
  const http = await listen(app);
  closers.push(() => http.close());
  return http.url;
}

function agentOn(
  url: string,
  group: string,
  lines: string[],
  checkpoint: { witnesses?: string[]; threshold?: number } = {},
): Agent {
  return new Agent(
    {
      server: url,
      group,
      root: join(fx.keysDir, '1.root.json'),
      stateDir: mkdtempSync(join(tmpdir(), 'fp-split-')),
      vendor: 'acme',
      product: 'acme-agent',
      platform: 'linux-x64',
      currentVersion: '2.3.0',
      channel: 'stable',
      intervalMs: MINUTE,
      push: false,
      checkpoint: {
        logKey: fx.node.logVerifierKey,
        witnesses: checkpoint.witnesses ?? [],
        threshold: checkpoint.threshold ?? 0,
        everyMs: 0,
      },
    },
    { clock: fx.clock, log: (l) => lines.push(l), fetcher: { attempts: 1, backoffMs: 1 } },
  );
}

async function audit() {
  await fx.node.sequencer.idle();
  return (await auditOverHttp(fx, closers))();
}

describe('split views of the log', () => {
  it('an honest log: every receipt carries a checkpoint the audit finds consistent', async () => {
    const url = await serverShowing(async () => undefined);
    const lines: string[] = [];
    const agent = agentOn(url, 'eu-west', lines);
    await agent.cycle();
    fx.clock.advance(5 * SECOND);
    await agent.cycle();
    expect(lines.filter((l) => /SPLIT|UNWITNESSED|INVALID/.test(l))).toEqual([]);
    expect(agent.receipts.all().some((r) => r.signed.observation.checkpoint)).toBe(true);
    const outcome = await audit();
    expect(outcome.error).toBeUndefined();
    expect(outcome.report?.findings.filter((f) => f.kind === 'log-split-view')).toEqual([]);
  });

  it('a checkpoint the log key signed for one group only is proof against the operator, naming the group', async () => {
    // eu-west is shown a forked log; us-east the real one. Both hand their receipts to the server.
    let forEu: string | undefined;
    const eu = await serverShowing(async () => (forEu ??= await forkedCheckpoint()));
    const us = await serverShowing(async () => undefined);
    const euAgent = agentOn(eu, 'eu-west', []);
    const usAgent = agentOn(us, 'us-east', []);
    await euAgent.cycle();
    await usAgent.cycle();
    const outcome = await audit();
    const split = outcome.report!.findings.filter((f) => f.kind === 'log-split-view');
    expect(split).toHaveLength(1);
    expect(split[0]).toMatchObject({ class: 'proof', unfair: true, group: 'eu-west' });
    expect(split[0]!.evidence.checkpoint).toBe(forEu);
    expect(
      Buffer.from(euAgent.receipts.all()[0]!.signed.observation.checkpoint!, 'base64').toString(),
    ).toBe(forEu);
    expect(outcome.exitCode).toBe(1);
  });

  it('a checkpoint not signed by the log key convicts nobody (anyone could have written it)', async () => {
    const stranger = generateKeyPair();
    const fake = signCheckpoint(
      {
        origin: parseVerifierKey(fx.node.logVerifierKey).name,
        size: 1,
        rootHash: Buffer.alloc(32, 9),
      },
      parseVerifierKey(fx.node.logVerifierKey).name,
      stranger.secretKey,
    );
    const lines: string[] = [];
    const agent = agentOn(await serverShowing(async () => fake), 'eu-west', lines);
    await agent.cycle();
    expect(lines.some((l) => l.startsWith('LOG CHECKPOINT INVALID'))).toBe(true);
    expect(agent.receipts.all().every((r) => !r.signed.observation.checkpoint)).toBe(true);
    const outcome = await audit();
    expect(outcome.report!.findings.filter((f) => f.kind === 'log-split-view')).toEqual([]);
  });

  it('a checkpoint answer too large to carry is not read past its limit, and says so', async () => {
    const lines: string[] = [];
    const agent = agentOn(await serverShowing(async () => 'x'.repeat(8 << 20)), 'eu-west', lines);
    await agent.cycle();
    expect(lines.filter((l) => l.startsWith('log checkpoint not checked'))).toEqual([
      expect.stringMatching(/larger than 3072 bytes/),
    ]);
    expect(agent.receipts.all().every((r) => !r.signed.observation.checkpoint)).toBe(true);
  });

  it('the agent says SPLIT VIEW when the log changes under a size it already saw', async () => {
    let seenSize: number | undefined;
    const url = await serverShowing(async () => {
      if (seenSize !== undefined) return forkedCheckpoint(seenSize);
      const note = (await fx.node.log.checkpoint())!;
      seenSize = openCheckpoint(note, parseVerifierKey(fx.node.logVerifierKey)).size;
      return note;
    });
    const lines: string[] = [];
    const agent = agentOn(url, 'eu-west', lines);
    await agent.cycle();
    fx.clock.advance(5 * SECOND);
    await agent.cycle();
    expect(lines.filter((l) => l.startsWith('SPLIT VIEW'))).toHaveLength(1);
  });

  it('requires cosignatures when told: too few witnesses is said; enough is quiet', async () => {
    const witness = generateKeyPair();
    const wkey = verifierKey('w1.example', witness.publicKey);
    let cosigned = false;
    const url = await serverShowing(async () => {
      const note = (await fx.node.log.checkpoint())!;
      const body = note.slice(0, note.lastIndexOf('\n\n') + 1);
      const at = Math.floor(fx.clock.now() / 1000);
      return cosigned ? note + cosign(body, 'w1.example', witness.secretKey, at) : note;
    });
    const lines: string[] = [];
    const agent = agentOn(url, 'eu-west', lines, { witnesses: [wkey], threshold: 1 });
    await agent.cycle();
    expect(lines.filter((l) => l.startsWith('UNWITNESSED LOG'))).toHaveLength(1);
    cosigned = true;
    fx.clock.advance(5 * SECOND);
    await agent.cycle();
    expect(lines.filter((l) => l.startsWith('UNWITNESSED LOG'))).toHaveLength(1);
  });
});
