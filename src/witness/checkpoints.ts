import { createHash } from 'node:crypto';
import { FairpatchError } from '../errors.js';
import { isUniqueViolation } from '../db/errors.js';
import { parseCheckpoint } from '../log/checkpoint.js';
import { cosign } from '../log/cosignature.js';
import { verifyConsistency } from '../log/merkle.js';
import type { LogKeyRing } from '../log/log-keys.js';
import { openNote } from '../log/note.js';
import type { WitnessDb } from './schema.js';

/** What a witness keeps public of each checkpoint it cosigns (src/common/witness-cosigned.ts). */
export interface CosignedRecord {
  origin: string;
  size: number;
  root: string;
  note: string;
  cosignature: string;
  at: number;
}

export type AddCheckpointResult =
  { kind: 'cosigned'; lines: string } | { kind: 'size-mismatch'; size: number };

const MAX_PROOF_LINES = 63;

interface Request {
  oldSize: number;
  proof: Buffer[];
  note: string;
}

/** The add-checkpoint body: `old N`, up to 63 base64 proof lines, an empty line, the signed checkpoint. */
function parseRequest(body: string): Request {
  const bad = (message: string): never => {
    throw new FairpatchError('BAD_REQUEST', message);
  };
  const blank = body.indexOf('\n\n');
  if (blank < 0) bad('expected "old N", proof lines, an empty line, then the checkpoint');
  const lines = body.slice(0, blank).split('\n');
  const old = /^old (0|[1-9]\d{0,15})$/.exec(lines[0] ?? '');
  if (!old) bad('the first line must be "old N" (decimal, no leading zeros)');
  const proofLines = lines.slice(1);
  if (proofLines.length > MAX_PROOF_LINES)
    bad(`more than ${MAX_PROOF_LINES} consistency proof lines`);
  const proof = proofLines.map((l) => {
    const hash = Buffer.from(l, 'base64');
    if (hash.length !== 32 || hash.toString('base64') !== l)
      bad('a consistency proof line is not base64 of 32 bytes');
    return hash;
  });
  return { oldSize: Number(old![1]), proof, note: body.slice(blank + 2) };
}

/** The note's text if a key of `keys` signed it; undefined if none did. */
function signedText(note: string, keys: LogKeyRing): string | undefined {
  try {
    return openNote(note, keys.verifiers()).text;
  } catch (error) {
    if (error instanceof FairpatchError && error.code === 'SIGNATURE_INVALID') return undefined;
    throw error;
  }
}

/**
 * C2SP tlog-witness `add-checkpoint` (https://c2sp.org/tlog-witness): for each configured log (by its
 * origin and pinned key) keeps the latest checkpoint it verified, and cosigns a new one only if the
 * log signed it and an RFC 9162 consistency proof (2.1.4.2) leads to it from that one. The check and
 * the update are one conditional write, so two racing requests cannot roll the record back, and the
 * record is persisted before the cosignature is returned: the witness never cosigns two inconsistent
 * checkpoints of one log, restarts included. Refused requests the log signed are kept as evidence.
 */
export class CheckpointWitness {
  private readonly logs: Map<string, LogKeyRing>;

  constructor(
    private readonly db: WitnessDb,
    /** Per log, its pinned key and those it announced since (a log key rotation, followed alone). */
    logs: readonly LogKeyRing[],
    private readonly key: { name: string; secretKey: Uint8Array },
    private readonly now: () => number,
    /**
     * Logs a cosignature in the witness's own log, durably, before it is returned (idempotent per
     * origin and size): the witness's cosigning history is public, so an operator cannot keep a
     * cosigned checkpoint to itself and serve a later one (a staged release's salt).
     */
    private readonly record: (entry: CosignedRecord) => Promise<void> = async () => {},
  ) {
    this.logs = new Map(logs.map((ring) => [ring.origin, ring]));
  }

  async add(body: string): Promise<AddCheckpointResult> {
    const request = parseRequest(body);
    const origin = request.note.slice(0, request.note.indexOf('\n'));
    const keys = this.logs.get(origin);
    if (!keys)
      throw new FairpatchError(
        'NOT_FOUND',
        `this witness does not follow a log with origin ${JSON.stringify(origin)}`,
      );
    // A key it does not know yet may be the log's next one: it follows the log's announcements
    // (signed under its current key) once, then judges. See src/log/log-keys.ts.
    let text = signedText(request.note, keys);
    if (text === undefined && (await keys.refresh()).length > 0)
      text = signedText(request.note, keys);
    if (text === undefined)
      throw new FairpatchError(
        'FORBIDDEN',
        `the checkpoint is not signed by a key this witness trusts for ${origin} (the pinned one, or one the log announced under it)`,
      );
    const checkpoint = parseCheckpoint(text);
    if (request.oldSize > checkpoint.size)
      throw new FairpatchError(
        'BAD_REQUEST',
        `old size ${request.oldSize} is larger than the checkpoint's ${checkpoint.size}`,
      );

    const stored = await this.db
      .selectFrom('witness_checkpoints')
      .selectAll()
      .where('origin', '=', origin)
      .executeTakeFirst();
    const storedSize = stored ? Number(stored.size) : 0;
    if (request.oldSize !== storedSize) return { kind: 'size-mismatch', size: storedSize };
    const root = checkpoint.rootHash.toString('hex');
    // The same checkpoint asked again: the same cosignature, with the time it was first cosigned.
    // A fresh time would make another valid cosignature, and a staged release's lottery salt is
    // drawn from cosignatures (src/rollout/salt.ts): every new one would be another draw for a log
    // operator who asks again and again. Ed25519 signs deterministically, so the line is identical.
    if (stored && storedSize === checkpoint.size && stored.root === root)
      // Recorded again (a no-op once logged): a crash between the two writes is healed here.
      return this.recorded(
        origin,
        checkpoint.size,
        root,
        stored.note,
        text,
        Number(stored.updated_at),
      );
    if (stored && storedSize === checkpoint.size && stored.root !== root) {
      throw await this.refuse(
        'CHECKPOINT_CONFLICT',
        origin,
        body,
        stored.note,
        `a checkpoint of size ${checkpoint.size} with another root than the one this witness cosigned: the log forked`,
      );
    }
    try {
      verifyConsistency(
        storedSize,
        checkpoint.size,
        stored ? Buffer.from(stored.root, 'hex') : checkpoint.rootHash,
        checkpoint.rootHash,
        request.proof,
      );
    } catch (error) {
      if (!(error instanceof FairpatchError)) throw error;
      throw await this.refuse(
        'PROOF_INVALID',
        origin,
        body,
        stored?.note ?? '',
        `the consistency proof from ${storedSize} to ${checkpoint.size} does not verify (${error.message}): not cosigned`,
      );
    }

    const row = { size: checkpoint.size, root, note: request.note, updated_at: this.now() };
    if (stored) {
      const updated = await this.db
        .updateTable('witness_checkpoints')
        .set(row)
        .where('origin', '=', origin)
        .where('size', '=', storedSize)
        .where('root', '=', stored.root)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1)
        return { kind: 'size-mismatch', size: await this.storedSize(origin) };
    } else {
      try {
        await this.db
          .insertInto('witness_checkpoints')
          .values({ origin, ...row })
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        return { kind: 'size-mismatch', size: await this.storedSize(origin) };
      }
    }
    return this.recorded(origin, checkpoint.size, root, request.note, text, row.updated_at);
  }

  /** The cosignature of `text` at `at`, once its record is in the witness's own log. */
  private async recorded(
    origin: string,
    size: number,
    root: string,
    note: string,
    text: string,
    at: number,
  ): Promise<AddCheckpointResult> {
    const lines = cosign(text, this.key.name, this.key.secretKey, Math.floor(at / 1000));
    await this.record({ origin, size, root, note, cosignature: lines.trimEnd(), at });
    return { kind: 'cosigned', lines };
  }

  /** The checkpoint last cosigned for `origin`, if any. */
  async latest(origin: string): Promise<string | undefined> {
    return (
      await this.db
        .selectFrom('witness_checkpoints')
        .select('note')
        .where('origin', '=', origin)
        .executeTakeFirst()
    )?.note;
  }

  private async storedSize(origin: string): Promise<number> {
    const row = await this.db
      .selectFrom('witness_checkpoints')
      .select('size')
      .where('origin', '=', origin)
      .executeTakeFirst();
    return row ? Number(row.size) : 0;
  }

  /** Keeps the refused, log-signed request beside what the witness had cosigned, and returns the refusal. */
  private async refuse(
    code: 'CHECKPOINT_CONFLICT' | 'PROOF_INVALID',
    origin: string,
    request: string,
    witnessed: string,
    message: string,
  ): Promise<FairpatchError> {
    const digest = createHash('sha256').update(request).digest('hex');
    await this.db
      .insertInto('witness_evidence')
      .values({ digest, origin, reason: message, request, witnessed, received_at: this.now() })
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
    return new FairpatchError(code, message, {
      details: { origin, witnessed_checkpoint: witnessed, submitted: request },
    });
  }
}
