// CVSS v3.1 base scores (FIRST's specification, section 7.1 and Appendix A's Roundup). The score
// is computed from the vector rather than taken on trust: CSAF's mandatory test 6.1.9 refuses a
// document whose score and vector disagree, and an advisory is no place for a typo in a number.

const WEIGHTS = {
  AV: { N: 0.85, A: 0.62, L: 0.55, P: 0.2 },
  AC: { L: 0.77, H: 0.44 },
  UI: { N: 0.85, R: 0.62 },
  CIA: { H: 0.56, L: 0.22, N: 0 },
} as const;

const VECTOR =
  /^CVSS:3\.1\/AV:([NALP])\/AC:([LH])\/PR:([NLH])\/UI:([NR])\/S:([UC])\/C:([HLN])\/I:([HLN])\/A:([HLN])$/;

export type Severity = 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export interface Cvss31 {
  vector: string;
  score: number;
  severity: Severity;
}

/** The specification's Roundup: the smallest one-decimal number not below x, free of float noise. */
function roundUp(x: number): number {
  const scaled = Math.round(x * 100_000);
  return scaled % 10_000 === 0 ? scaled / 100_000 : (Math.floor(scaled / 10_000) + 1) / 10;
}

export function severityOf(score: number): Severity {
  if (score === 0) return 'NONE';
  if (score < 4) return 'LOW';
  if (score < 7) return 'MEDIUM';
  if (score < 9) return 'HIGH';
  return 'CRITICAL';
}

/** The base score of a v3.1 base vector (the eight base metrics, in order), or undefined. */
export function cvss31(vector: string): Cvss31 | undefined {
  const m = VECTOR.exec(vector);
  if (!m) return undefined;
  const [, av, ac, pr, ui, s, c, i, a] = m as unknown as [string, ...string[]];
  const changed = s === 'C';
  const prWeight = pr === 'N' ? 0.85 : pr === 'L' ? (changed ? 0.68 : 0.62) : changed ? 0.5 : 0.27;
  const cia = (x: string) => WEIGHTS.CIA[x as 'H' | 'L' | 'N'];
  const iss = 1 - (1 - cia(c!)) * (1 - cia(i!)) * (1 - cia(a!));
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability =
    8.22 *
    WEIGHTS.AV[av as keyof typeof WEIGHTS.AV] *
    WEIGHTS.AC[ac as keyof typeof WEIGHTS.AC] *
    prWeight *
    WEIGHTS.UI[ui as keyof typeof WEIGHTS.UI];
  const score =
    impact <= 0 ? 0 : roundUp(Math.min((changed ? 1.08 : 1) * (impact + exploitability), 10));
  return { vector, score, severity: severityOf(score) };
}
