import type { Finding } from './report.js';

/** An activated vendor version as the auditor opened it from its activation leaf. */
interface OpenedVersion {
  activation: { index: number; leaf: { tick: number; metadata_version: number } };
  targets: Record<string, { custom?: object; hashes?: { sha256?: string } }>;
  added: string[];
}

/** An advisory (src/advisory) and its fix, each at the tick its vendor version went live. */
export interface AdvisoryPublication {
  id: string;
  /** Its own target and the file's hash, as the vendor signed them. */
  target: string;
  sha256: string;
  tick: number;
  tickStart: number;
  /** The activation leaf that made it public. */
  leaf: number;
  fix: { product: string; version: string; tick?: number; tickStart?: number; leaf?: number };
  /** Fix and advisory went public at one tick (the same activation leaf). */
  sameTick: boolean;
}

const text = (c: Record<string, unknown> | undefined, key: string): string | undefined =>
  typeof c?.[key] === 'string' ? (c[key] as string) : undefined;

/**
 * The advisories a version added, each with the tick its fix (the targets of the same product and
 * version) first went live, read from the vendors' signed metadata in the activation leaves. One
 * tick apart is proof (`advisory-skew`): the leaves are under the log's checkpoint, so anyone can
 * see who learnt of the flaw before the fix reached them, or who got a fix nobody told them of.
 */
export function advisoriesOf(
  versions: readonly OpenedVersion[],
  live: OpenedVersion | undefined,
  release: string,
  tickStart: (k: number) => number,
): { publications: AdvisoryPublication[]; findings: Finding[] } {
  const publications: AdvisoryPublication[] = [];
  const findings: Finding[] = [];
  for (const path of live?.added ?? []) {
    const custom = live!.targets[path]?.custom as Record<string, unknown> | undefined;
    const id = text(custom, 'advisory');
    const product = text(custom, 'product');
    const version = text(custom, 'version');
    if (!id || !product || !version) continue;
    const isFix = (t: { custom?: object }) => {
      const c = t.custom as Record<string, unknown> | undefined;
      return !text(c, 'advisory') && c?.product === product && c?.version === version;
    };
    const fixVersion = versions.find((v) =>
      v.added.some((p) => v.targets[p] !== undefined && isFix(v.targets[p]!)),
    );
    const tick = live!.activation.leaf.tick;
    const fixTick = fixVersion?.activation.leaf.tick;
    const publication: AdvisoryPublication = {
      id,
      target: path,
      sha256: live!.targets[path]?.hashes?.sha256 ?? '',
      tick,
      tickStart: tickStart(tick),
      leaf: live!.activation.index,
      fix: {
        product,
        version,
        ...(fixVersion
          ? {
              tick: fixTick,
              tickStart: tickStart(fixTick!),
              leaf: fixVersion.activation.index,
            }
          : {}),
      },
      sameTick: fixTick === tick,
    };
    publications.push(publication);
    if (!publication.sameTick)
      findings.push({
        kind: 'advisory-skew',
        class: 'proof',
        unfair: true,
        release,
        message:
          fixTick === undefined
            ? `advisory ${id} went public at tick ${tick}, and its fix ${product} ${version} never did`
            : `advisory ${id} went public at tick ${tick}, its fix ${product} ${version} at tick ${fixTick}`,
        evidence: {
          advisory_leaf: publication.leaf,
          ...(fixVersion ? { fix_leaf: fixVersion.activation.index } : {}),
          advisory_tick: tick,
          ...(fixTick !== undefined ? { fix_tick: fixTick } : {}),
        },
      });
  }
  return { publications, findings };
}
