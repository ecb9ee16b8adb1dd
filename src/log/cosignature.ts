import { createHash } from 'node:crypto';
import { ed25519Sign, ed25519Verify } from '../common/ed25519.js';
import { FairpatchError } from '../errors.js';
import type { Verifier } from './note.js';

// C2SP tlog-cosignature v1, Ed25519 (https://c2sp.org/tlog-cosignature): a witness's note signature
// on a checkpoint, over "cosignature/v1\ntime <T>\n" || the checkpoint body, as keyid || u64 T || sig.
// The key id uses signature type 0x04, so a cosignature never passes for the same key's plain note
// signature (type 0x01), and a witness's one Ed25519 key serves both its own log and its cosignatures.

const COSIGNATURE_V1 = 0x04;
const EM_DASH = '\u2014';

export function cosignatureKeyId(name: string, publicKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update('\n')
    .update(Buffer.from([COSIGNATURE_V1]))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

function message(checkpointText: string, timestamp: number): Buffer {
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/** The note signature line cosigning `checkpointText` (the note body, ending in a newline) at `timestamp` (POSIX seconds). */
export function cosign(
  checkpointText: string,
  name: string,
  secretKey: Uint8Array,
  timestamp: number,
): string {
  if (!checkpointText.endsWith('\n'))
    throw new FairpatchError('NOTE_INVALID', 'checkpoint text must end with a newline');
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(BigInt(timestamp));
  const sig = ed25519Sign(secretKey, message(checkpointText, timestamp));
  return `${EM_DASH} ${name} ${Buffer.concat([cosignatureKeyId(name, secretKey.subarray(32)), time, sig]).toString('base64')}\n`;
}

/**
 * The witnesses (by name) whose valid cosignature a signed checkpoint note carries. Lines by other
 * keys are ignored, as the spec requires; a known key's line that does not verify is an error.
 */
export function verifiedCosigners(
  note: string,
  witnesses: readonly Verifier[],
): Array<{ name: string; timestamp: number }> {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new FairpatchError('NOTE_INVALID', 'note has no signature block');
  const text = note.slice(0, split + 1);
  const out: Array<{ name: string; timestamp: number }> = [];
  for (const line of note
    .slice(split + 2)
    .split('\n')
    .filter(Boolean)) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) continue;
    const [, name, b64] = match as unknown as [string, string, string];
    const blob = Buffer.from(b64, 'base64');
    const witness = witnesses.find(
      (w) => w.name === name && cosignatureKeyId(w.name, w.publicKey).equals(blob.subarray(0, 4)),
    );
    if (!witness || out.some((o) => o.name === name)) continue;
    const timestamp = blob.length === 76 ? Number(blob.readBigUInt64BE(4)) : -1;
    if (
      timestamp < 0 ||
      !ed25519Verify(witness.publicKey, message(text, timestamp), blob.subarray(12))
    ) {
      throw new FairpatchError('SIGNATURE_INVALID', `the cosignature by ${name} does not verify`);
    }
    out.push({ name, timestamp });
  }
  return out;
}

/**
 * The cosignature lines a checkpoint note carries, as written, without verifying them: the witness
 * name, its key id (hex) and the cosignature's time (POSIX seconds). For showing who cosigned; only
 * `verifiedCosigners`, with the witnesses' keys pinned, says a cosignature is genuine.
 */
export function cosignatureLines(
  note: string,
): Array<{ name: string; keyId: string; timestamp: number }> {
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return [];
  const out: Array<{ name: string; keyId: string; timestamp: number }> = [];
  for (const line of note.slice(split + 2).split('\n')) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) continue;
    const blob = Buffer.from(match[2] as string, 'base64');
    // key id (4) || time (8) || Ed25519 signature (64); a plain note signature has no time (68 bytes).
    if (blob.length !== 76) continue;
    out.push({
      name: match[1] as string,
      keyId: blob.subarray(0, 4).toString('hex'),
      timestamp: Number(blob.readBigUInt64BE(4)),
    });
  }
  return out;
}
