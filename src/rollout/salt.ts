import { createHash } from 'node:crypto';
import { openCheckpoint } from '../log/checkpoint.js';
import { cosignatureKeyId, verifiedCosigners } from '../log/cosignature.js';
import type { Verifier } from '../log/note.js';
import { FairpatchError } from '../errors.js';

// A release's lottery salt, fresh per release and fixed by nobody alone: the cosignatures that the
// configured witnesses put on the first checkpoint whose tree holds the release's activation leaf.
// The vendor signs its plan before that leaf exists, and the operator cannot know the witnesses'
// signatures before they sign, so neither can aim the lottery at a group. Every configured witness
// must have cosigned, exactly once: with the full set required the node cannot pick the subset whose
// signatures suit it. What is left: a witness that signs the same checkpoint again (a new cosignature
// time) hands the operator another draw (a fairpatch witness answers a repeat with the same line), so
// the salt is unsteerable only while every witness of the set is honest (docs/design.md, "Staged
// rollout").

const DOMAIN = Buffer.from('fairpatch rollout salt v1\n', 'utf8');
const EM_DASH = '\u2014';

export interface Salt {
  salt: Buffer;
  /** The checkpoint's tree size: the auditor checks it is the first to hold the activation leaf. */
  size: number;
  /** Witness names whose cosignatures made the salt (sorted); empty when the operator chose it. */
  witnesses: string[];
  /** No witness configured: the operator's log signature alone, which the operator could grind. */
  operatorChosen: boolean;
}

const invalid = (message: string): never => {
  throw new FairpatchError('CHECKPOINT_INVALID', message);
};

/**
 * The salt of `release` from a signed checkpoint note. The log key must have signed it; with
 * witnesses configured each must have cosigned it exactly once, validly. Without witnesses the salt is
 * the log's own signature line, marked operator-chosen.
 */
export function deriveSalt(input: {
  release: string;
  note: string;
  log: Verifier | readonly Verifier[];
  witnesses: readonly Verifier[];
}): Salt {
  const { release, note, witnesses } = input;
  const checkpoint = openCheckpoint(note, input.log);
  const split = note.lastIndexOf('\n\n');
  const text = note.slice(0, split + 1);
  const lines = note
    .slice(split + 2)
    .split('\n')
    .filter(Boolean);
  if (witnesses.length === 0) {
    const logs = Array.isArray(input.log) ? input.log : [input.log as Verifier];
    const own = lines.find((l) => logs.some((v) => l.startsWith(`${EM_DASH} ${v.name} `)));
    const salt = saltOf(release, [own ?? invalid('the checkpoint carries no log signature')]);
    return { salt, size: checkpoint.size, witnesses: [], operatorChosen: true };
  }
  const cosignatures: string[] = [];
  const sorted = [...witnesses].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const w of sorted) {
    const keyId = cosignatureKeyId(w.name, w.publicKey);
    const own = lines.filter((l) => {
      if (!l.startsWith(`${EM_DASH} ${w.name} `)) return false;
      const blob = Buffer.from(l.slice(w.name.length + 3), 'base64');
      return blob.length === 76 && blob.subarray(0, 4).equals(keyId);
    });
    if (own.length === 0)
      throw new FairpatchError(
        'CHECKPOINT_INVALID',
        `witness ${w.name} has not cosigned checkpoint ${checkpoint.size}`,
        { details: { uncosigned: w.name } },
      );
    if (own.length > 1)
      invalid(
        `witness ${w.name} cosigned checkpoint ${checkpoint.size} ${own.length} times: the salt would be the node's choice`,
      );
    // Throws SIGNATURE_INVALID for a line that does not verify.
    verifiedCosigners(`${text}\n${own[0]}\n`, [w]);
    cosignatures.push(own[0]!);
  }
  return {
    salt: saltOf(release, cosignatures),
    size: checkpoint.size,
    witnesses: sorted.map((w) => w.name),
    operatorChosen: false,
  };
}

/**
 * The salt a node computes from its own log for its dashboard: every cosignature line the checkpoint
 * carries, one per witness name, taken as they are (the node holds its witnesses' URLs, not their
 * keys). It equals `deriveSalt` for agents pinning exactly those witnesses; only `deriveSalt`, with the
 * keys pinned, says the cosignatures are genuine, so the independent audit is what counts.
 */
export function saltAsLogged(release: string, note: string): Salt | undefined {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const byName = new Map<string, string[]>();
  for (const line of note.slice(split + 2).split('\n')) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match || Buffer.from(match[2]!, 'base64').length !== 76) continue;
    byName.set(match[1]!, [...(byName.get(match[1]!) ?? []), line]);
  }
  if (byName.size === 0 || [...byName.values()].some((lines) => lines.length !== 1))
    return undefined;
  const names = [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const salt = saltOf(
    release,
    names.map((name) => byName.get(name)![0]!),
  );
  const size = Number(note.split('\n')[1]);
  return { salt, size, witnesses: names, operatorChosen: false };
}

/** SHA-256 over the domain, the release and the signature lines, each prefixed with its length. */
function saltOf(release: string, lines: readonly string[]): Buffer {
  const hash = createHash('sha256').update(DOMAIN);
  for (const field of [release, ...lines]) {
    const bytes = Buffer.from(field, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(bytes.length);
    hash.update(len).update(bytes);
  }
  return hash.digest();
}
