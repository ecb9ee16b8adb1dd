import { createHash, randomBytes } from 'node:crypto';
import { replaceSection, RESULTS } from '../lib/sections.js';
import { cohort, inShare, releaseId } from '../../src/rollout/lottery.js';
import { groupParity } from '../../src/rollout/parity.js';

// `npm run bench -- rollout [releases] [agents]`: what the staged-rollout lottery costs an agent,
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
  const lines = [
    '## Staged rollout: the lottery',
    '',
    `\`npm run bench -- rollout ${releases} ${agentCount}\`, ${new Date().toISOString()}, node ${process.version}.`,
    '',
    `- eligibility per agent (cohort = SHA-256 over release, salt and key; integer compare): ${micros.toFixed(2)} µs, mean of 200,000`,
    `- parity: ${releases} releases × ${agentCount} agents in ${GROUPS} groups of ${Math.floor(agentCount / GROUPS)}, a fresh salt each, stages of ${SHARES_BP.map((b) => `${b / 100} %`).join(', ')}: ${checks} group-stage counts, largest deviation ${worst.sigma.toFixed(2)} σ (release ${worst.release}, group ${worst.group}, ${worst.share} %), ${beyond} beyond the audit's 4 σ bound (expected about ${(checks * 6.3e-5).toFixed(2)} by chance)`,
  ];
  for (const l of lines) console.log(l);
  replaceSection(RESULTS, '## Staged rollout', lines);
}
