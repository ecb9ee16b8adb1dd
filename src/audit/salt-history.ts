import { parseJson } from '../common/canonical.js';
import { witnessCosignedLeafSchema } from '../common/witness-cosigned.js';
import { openCheckpoint } from '../log/checkpoint.js';
import { verifiedCosigners } from '../log/cosignature.js';
import { type Verifier, parseVerifierKey } from '../log/note.js';
import type { VerifiedSalt } from '../rollout/evidence.js';
import type { Finding } from './report.js';
import type { AuditedSalt } from './rollout.js';
import { verifiedLeaves } from './witness.js';

// A staged release's salt is every pinned witness's cosignature on the first checkpoint holding its
// activation (src/rollout/salt.ts). An operator could have that checkpoint cosigned, dislike the salt,
// keep the cosignatures to itself, append and serve a later one: another draw. Each witness logs every
// checkpoint it cosigns in its own log before answering (src/common/witness-cosigned.ts), so the
// auditor reads each pinned witness's log and holds the salt's checkpoint against the first size
// every one of them cosigned holding the activation. An earlier one is proof: the log's own signature
// on it and each witness's cosignature, which the log asked for. A log it cannot read leaves the salt
// unverified, never FAIR.

/** A witness the auditor pins: its log's URL and its verifier key. */
export interface WitnessLogPin {
  url: string;
  vkey: string;
}

/** A checkpoint of the audited log a witness cosigned, as its log holds it (both signatures checked). */
interface Cosigned {
  index: number;
  size: number;
  checkpoint: string;
  cosignature: string;
}

export class SaltHistories {
  /** Proof found on the way (`rollout-salt-withheld`), for the audit's findings. */
  readonly findings: Finding[] = [];
  private readonly pins: Map<string, WitnessLogPin & { verifier: Verifier }>;
  private readonly read = new Map<string, Promise<string[]>>();

  constructor(
    pins: readonly WitnessLogPin[],
    /** The audited log's keys: only checkpoints it signed count. */
    private readonly log: readonly Verifier[],
  ) {
    this.pins = new Map(
      pins.map((p) => {
        const verifier = parseVerifierKey(p.vkey);
        return [verifier.name, { ...p, verifier }];
      }),
    );
  }

  /**
   * The salt, once every witness it came from shows in its own log no earlier cosigned checkpoint
   * holding the activation; an error when a log is missing or unreadable. An earlier one every
   * witness cosigned adds a finding (the salt is still returned: the rest of the audit goes on).
   */
  async judge(release: string, salt: VerifiedSalt): Promise<AuditedSalt> {
    const audited = {
      salt: salt.salt,
      size: salt.size,
      witnesses: salt.witnesses,
      operatorChosen: salt.operatorChosen,
    };
    if (salt.operatorChosen) return audited;
    // Per size holding the activation: each witness's logged cosignature on it.
    const bySize = new Map<number, Array<{ witness: string; url: string } & Cosigned>>();
    for (const name of salt.witnesses) {
      const pin = this.pins.get(name);
      if (!pin)
        return {
          error: `no log URL is pinned for witness ${name} (--witness URL): whether it cosigned an earlier checkpoint holding the activation, hidden, cannot be checked`,
        };
      let history: Cosigned[];
      try {
        history = this.cosigned(await this.leaves(pin), pin.verifier);
      } catch (error) {
        return {
          error: `the log of witness ${name} (${pin.url}) could not be read: ${(error as Error).message}`,
        };
      }
      const holding = history.filter((c) => c.size > salt.leafIndex && c.size <= salt.size);
      if (!holding.some((c) => c.size === salt.size))
        return {
          error: `the log of witness ${name} (${pin.url}) does not record cosigning checkpoint ${salt.size}, the salt's: its cosigning history cannot be checked`,
        };
      for (const c of holding)
        bySize.set(c.size, [...(bySize.get(c.size) ?? []), { witness: name, url: pin.url, ...c }]);
    }
    const first = [...bySize.entries()]
      .filter(([, by]) => new Set(by.map((c) => c.witness)).size === salt.witnesses.length)
      .map(([size]) => size)
      .sort((a, b) => a - b)[0];
    if (first !== undefined && first < salt.size) {
      const by = bySize.get(first)!;
      this.findings.push({
        kind: 'rollout-salt-withheld',
        class: 'proof',
        unfair: true,
        message: `the lottery salt of ${release} came from checkpoint ${salt.size}, but every witness it pins had cosigned checkpoint ${first}, which already held the activation (leaf ${salt.leafIndex}): the log signed it and asked for those cosignatures, then served a later draw`,
        evidence: {
          rollout: release,
          activation_leaf: salt.leafIndex,
          salt_checkpoint_size: salt.size,
          withheld: by.map((c) => ({
            witness: c.witness,
            witness_log: c.url,
            witness_leaf: c.index,
            checkpoint: c.checkpoint,
            cosignature: c.cosignature,
          })),
        },
      });
    }
    return audited;
  }

  /** A witness's log, every leaf hashed into its signed checkpoint, read once per audit. */
  private leaves(pin: WitnessLogPin): Promise<string[]> {
    let read = this.read.get(pin.url);
    if (!read) {
      read = verifiedLeaves(pin.url, pin.vkey);
      this.read.set(pin.url, read);
    }
    return read;
  }

  /**
   * The audited log's checkpoints the witness's log says it cosigned, where both signatures verify
   * and the leaf's fields are the checkpoint's own; anything else in its log is not this audit's.
   */
  private cosigned(leaves: readonly string[], witness: Verifier): Cosigned[] {
    const out: Cosigned[] = [];
    for (const [index, text] of leaves.entries()) {
      if (!text.includes('"witness.cosigned"')) continue;
      try {
        const leaf = witnessCosignedLeafSchema.parse(parseJson(text));
        const checkpoint = openCheckpoint(leaf.checkpoint, this.log);
        if (
          checkpoint.size !== leaf.size ||
          checkpoint.rootHash.toString('hex') !== leaf.root ||
          checkpoint.origin !== leaf.origin
        )
          continue;
        const body = leaf.checkpoint.slice(0, leaf.checkpoint.lastIndexOf('\n\n') + 1);
        const signers = verifiedCosigners(`${body}\n${leaf.cosignature}\n`, [witness]);
        if (!signers.some((s) => s.name === witness.name)) continue;
        out.push({
          index,
          size: leaf.size,
          checkpoint: leaf.checkpoint,
          cosignature: leaf.cosignature,
        });
      } catch {
        continue; // not the audited log's, or not this witness's signature: proves nothing here
      }
    }
    return out;
  }
}
