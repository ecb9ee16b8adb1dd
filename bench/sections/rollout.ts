import { createHash, randomBytes } from 'node:crypto';
import { replaceSection, RESULTS } from '../lib/sections.js';
import { cohort, inShare, releaseId } from '../../src/rollout/lottery.js';
import { groupParity } from '../../src/rollout/parity.js';
import { rolloutAudit } from '../../src/audit/rollout.js';
import { DEFAULT_AUDIT_OPTIONS, type ReleaseReport } from '../../src/audit/report.js';
import type { Seen } from '../../src/audit/observations.js';
import type { VerifiedDocument } from '../../src/tuf/timestamp-document.js';

// `npm run bench -- rollout [releases] [agents] [receipts]`: what the staged-rollout lottery costs an agent,
// and how close to the plan each group's share comes when the salt is fresh per release. Writes its
// section of bench/RESULTS.md.

const GROUPS = 5;
/** The shares of a typical plan: 1 %, 2 %, 5 %, 10 %, 20 %, 50 % (Apple's phased release, less 100 %). */
const SHARES_BP = [100, 200, 500, 1000, 2000, 5000];

function eligibilityMicros(agents: readonly string[], salt: Buffer): number {
  const id = releaseId('acme', 'acme-agent', '2.4.1');
  let sink = 0;
  for (const a of agents.slice(0, 10_000)) if (inShare(cohort(id, salt, a), 1000)) sink++; // warm-up
  const t0 = process.hrtime.bigint();
  for (const a of agents) if (inShare(cohort(id, salt, a), 1000)) sink++;
  const micros = Number(process.hrtime.bigint() - t0) / 1000 / agents.length;
  if (sink < 0) throw new Error('unreachable');
  return micros;
}

/**
 * `releases` releases, each with a fresh random salt, `agents` agents spread over 5 groups (keys
 * fixed across releases, as a fleet's are): per release, stage and group, the eligible count's
 * deviation from the plan in σ. Returns the largest |deviation| and how many exceeded 4σ.
 */
function paritySimulation(releases: number, agents: readonly string[]) {
  let worst = { sigma: 0, release: 0, group: 0, share: 0 };
  let beyond = 0;
  let checks = 0;
  const perGroup = Math.floor(agents.length / GROUPS);
  for (let r = 0; r < releases; r++) {
    const salt = randomBytes(32);
    const id = releaseId('acme', 'acme-agent', `1.0.${r}`);
    const cohorts = agents.map((a) => cohort(id, salt, a));
    for (let g = 0; g < GROUPS; g++) {
      const mine = cohorts.slice(g * perGroup, (g + 1) * perGroup);
      for (const bp of SHARES_BP) {
        const eligible = mine.filter((c) => inShare(c, bp)).length;
        const parity = groupParity(mine.length, eligible, bp);
        checks++;
        if (!parity.within) beyond++;
        if (Math.abs(parity.deviation) > Math.abs(worst.sigma))
          worst = { sigma: parity.deviation, release: r, group: g, share: bp / 100 };
      }
    }
  }
  return { worst, beyond, checks };
}

/**
 * The staged-rollout pass of the audit (src/audit/rollout.ts) over `receipts` verified receipt runs
 * of 10,000 vouched agents in 5 groups, a three-stage plan: every agent's eligibility recomputed
 * per stage, each group's parity, every agent's signed claim held against it. Signatures and
 * documents are checked before this pass (and measured by the intake benchmarks); this is what a
 * staged release adds. Time and the RSS it adds.
 */
function auditPass(receipts: number) {
  const agents = Array.from({ length: 10_000 }, (_, i) =>
    createHash('sha256').update(`audit agent ${i}`).digest('hex'),
  );
  const release = releaseId('acme', 'acme-agent', '2.4.1');
  const salt = randomBytes(32);
  const clock = { epochMs: 0, tickMs: 1000 };
  const T0 = 1_000_000;
  const plan = {
    v: 1,
    stages: [
      { percent_bp: 100, after_s: 0 },
      { percent_bp: 1000, after_s: 3600 },
      { percent_bp: 10000, after_s: 21600 },
    ],
  };
  const metadata = JSON.stringify({
    signed: {
      targets: {
        'acme/a.bin': {
          hashes: { sha256: '0'.repeat(64) },
          custom: { product: 'acme-agent', version: '2.4.1', severity: 'high', rollout: plan },
        },
      },
    },
  });
  const doc = { tick: T0, snapshotVersion: 2 } as VerifiedDocument;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rss0 = process.memoryUsage.rss();
  const seen: Seen[] = [];
  const stageAtK = (k: number) => (k < 3600 ? 0 : k < 21600 ? 1 : 2);
  for (let i = 0; i < receipts; i++) {
    const a = i % agents.length;
    const k = Math.floor((i / receipts) * 30_000);
    const stage = stageAtK(k);
    const bp = plan.stages[stage]!.percent_bp;
    seen.push({
      agent: agents[a]!,
      group: `g${a % GROUPS}`,
      doc: { ...doc, tick: T0 + k },
      firstAt: (T0 + k - 1) * 1000,
      lastAt: (T0 + k - 1) * 1000 + 500,
      polls: 1,
      via: '/g',
      pushed: undefined,
      artifactFailures: [],
      pathFailures: [],
      checkpoints: [],
      source: 'log',
      vouched: true,
      rollout: {
        release,
        stage,
        percent_bp: bp,
        eligible: inShare(cohort(release, salt, agents[a]!), bp),
      },
    });
  }
  const report = { id: 'acme/2', vendor: 'acme', targets: ['acme/a.bin'] } as ReleaseReport;
  const t0 = performance.now();
  const out = rolloutAudit({
    report,
    vendor: 'acme',
    metadata,
    activationTick: T0,
    clock,
    now: (T0 + 30_000) * 1000,
    seen,
    salts: new Map([[release, { salt, size: 10, witnesses: ['w1'], operatorChosen: false }]]),
    options: DEFAULT_AUDIT_OPTIONS,
    quorumOf: () => 1,
  });
  const seconds = (performance.now() - t0) / 1000;
  const rssMiB = (process.memoryUsage.rss() - rss0) / 1024 / 1024;
  if (out.findings.length > 0)
    throw new Error(`honest runs gave findings: ${out.findings[0]!.message}`);
  return { seconds, rssMiB, stages: out.rollout!.stages.length };
}

export async function run(args: readonly string[]): Promise<void> {
  const releases = Number(args[0] ?? 100);
  const agentCount = Number(args[1] ?? 10_000);
  const agents = Array.from({ length: agentCount }, (_, i) =>
    createHash('sha256').update(`bench agent ${i}`).digest('hex'),
  );
  const micros = eligibilityMicros(
    Array.from({ length: 200_000 }, (_, i) => agents[i % agents.length]!),
    randomBytes(32),
  );
  const { worst, beyond, checks } = paritySimulation(releases, agents);
  const receipts = Number(args[2] ?? 1_000_000);
  const pass = auditPass(receipts);
  const lines = [
    '## Staged rollout: the lottery',
    '',
    `\`npm run bench -- rollout ${releases} ${agentCount} ${receipts}\`, ${new Date().toISOString()}, node ${process.version}.`,
    '',
    `- eligibility per agent (cohort = SHA-256 over release, salt and key; integer compare): ${micros.toFixed(2)} µs, mean of 200,000`,
    `- the staged-rollout pass of the audit over ${receipts.toLocaleString('en')} verified receipt runs (10,000 vouched agents, 5 groups, 3 stages; signatures are checked before it): ${pass.seconds.toFixed(2)} s, ${pass.rssMiB.toFixed(0)} MiB RSS for the runs and the pass`,
    `- parity: ${releases} releases × ${agentCount} agents in ${GROUPS} groups of ${Math.floor(agentCount / GROUPS)}, a fresh salt each, stages of ${SHARES_BP.map((b) => `${b / 100} %`).join(', ')}: ${checks} group-stage counts, largest deviation ${worst.sigma.toFixed(2)} σ (release ${worst.release}, group ${worst.group}, ${worst.share} %), ${beyond} outside the audit's bound (as likely as 4 σ, on the exact binomial tail: about ${(checks * 6.3e-5).toFixed(2)} expected by chance)`,
  ];
  for (const l of lines) console.log(l);
  replaceSection(RESULTS, '## Staged rollout', lines);
}
