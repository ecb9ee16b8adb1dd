import { existsSync, readFileSync } from 'node:fs';
import { privateDir, writeFileAtomic } from '../common/files.js';
import { join } from 'node:path';
import { FairpatchError } from '../errors.js';
import { reach } from '../net/unreachable.js';
import { expectOk, failureCode, httpFailure } from '../net/errors.js';
import { textAtMost } from '../net/bounded.js';
import { type Checkpoint, openCheckpoint } from '../log/checkpoint.js';
import type { Leaf } from '../log/leaves.js';
import { announcedLogKeys, followLogKeys, keyRotationsSchema } from '../log/log-keys.js';
import { httpKeyRotations } from '../net/log-key-rotations.js';
import { verifiedCosigners } from '../log/cosignature.js';
import { type Verifier, parseVerifierKey } from '../log/note.js';
import { parseJson } from '../common/canonical.js';
import type { TufKey } from '../tuf/keys.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import { assertRootSuccessor } from '../tuf/roles.js';
import { parseRoot } from '../tuf/schema.js';
import { canonicalBytes } from '../common/canonical.js';
import { sha256Hex } from '../tuf/metadata.js';
import {
  type AuditOptions,
  type FairnessReport,
  type Finding,
  evaluateFairness,
} from './fairness.js';
import { type ExternalEvidence, newVerificationCache } from './observations.js';
import { timestampKeyWindows } from './key-windows.js';
import { followLog } from './log-follow.js';
import { checkpointSizes } from './split-view.js';
import { fetchRolloutSalts } from './rollout-salts.js';
import { SaltHistories, type WitnessLogPin } from './salt-history.js';

export interface AuditRun {
  server: string;
  /** Where the last verified checkpoint and the verified leaves are kept between runs (the witness). */
  stateDir: string;
  /** The log's C2SP verifier key, pinned out of band (`keys/log.vkey`). */
  logKey: string;
  /** A trusted TUF root (`1.root.json`); newer roots are fetched and checked against it. */
  root: Envelope<RootSigned>;
  now: number;
  options?: Partial<AuditOptions>;
  /** Evidence that did not come through the audited server: witnesses, agents' exported receipts. */
  external?: ExternalEvidence[];
  /** Witness verifier keys and how many of them must have cosigned the served checkpoint (C2SP tlog-cosignature). */
  cosigners?: { keys: string[]; threshold: number };
  /**
   * Where each pinned witness's own log is (`--witness URL`): its cosigning history, against which a
   * staged release's salt is checked. A pinned witness without one leaves the salt unverified.
   */
  witnessLogs?: readonly WitnessLogPin[];
}

export interface AuditOutcome {
  /** 0 FAIR, 1 UNFAIR, 2 cannot verify. */
  exitCode: 0 | 1 | 2;
  report?: FairnessReport;
  checkpoint?: Checkpoint;
  error?: string;
  /**
   * Why it could not verify, as a code: UNREACHABLE, SERVER_UNAVAILABLE (a 5xx), NOT_FOUND (a 404),
   * SERVER_REFUSED, or a src/errors.ts code such as PROOF_INVALID; INTERNAL for anything else.
   */
  errorCode?: string;
}

async function get(server: string, path: string): Promise<Response> {
  return reach(new URL(path, server), { timeoutMs: 30_000 });
}

async function getText(server: string, path: string, maxBytes?: number): Promise<string> {
  // A 5xx is the server failing, a 404 something missing: each keeps its own code (src/net/errors.ts).
  const response = await expectOk(await get(server, path), path);
  if (maxBytes === undefined) return response.text();
  try {
    return await textAtMost(response, maxBytes);
  } catch (error) {
    throw new FairpatchError('PROOF_INVALID', `${path}: ${(error as Error).message}`);
  }
}

/**
 * `fairpatch audit`: verifies the log against the auditor's own saved checkpoint, recomputes the
 * tree from every leaf it relies on, verifies receipts against the TUF root's timestamp keys, and
 * returns the fairness report. Anything it cannot verify makes the outcome 2, never FAIR.
 */
export async function runAudit(run: AuditRun): Promise<AuditOutcome> {
  try {
    return await audit(run);
  } catch (error) {
    return {
      exitCode: 2,
      error: error instanceof Error ? error.message : String(error),
      errorCode: failureCode(error),
    };
  }
}

/**
 * Opens the served checkpoint with the keys this auditor trusts. One no trusted key signed may come
 * after a log-key rotation this auditor never saw announced (it did not run between begin and
 * promote): the log's `/log/key-rotations` then proves the next key from a key already trusted (a
 * checkpoint it signed that includes the announcement), as TUF clients follow a root rotation. A key
 * learnt so is kept beside the others; a checkpoint still unverified after that is refused.
 */
async function openFollowingRotations(
  run: AuditRun,
  note: string,
  verifier: Verifier[],
  learned: string[],
  learnedPath: string,
): Promise<Checkpoint> {
  try {
    return openCheckpoint(note, verifier);
  } catch (error) {
    if (!(error instanceof FairpatchError)) throw error;
    const rotations = keyRotationsSchema.safeParse(
      await httpKeyRotations(run.server)().catch(() => undefined),
    );
    const found = rotations.success ? followLogKeys([run.logKey, ...learned], rotations.data) : [];
    if (found.length === 0) throw error;
    learned.push(...found);
    verifier.push(...found.map((k) => parseVerifierKey(k)));
    writeFileAtomic(learnedPath, JSON.stringify(learned));
    return openCheckpoint(note, verifier);
  }
}

async function audit(run: AuditRun): Promise<AuditOutcome> {
  privateDir(run.stateDir);
  // The pinned key, plus keys the log itself announced under checkpoints a trusted key signed.
  const learnedPath = join(run.stateDir, 'log-keys.json');
  const learned = existsSync(learnedPath)
    ? (JSON.parse(readFileSync(learnedPath, 'utf8')) as string[])
    : [];
  const verifier = [parseVerifierKey(run.logKey), ...learned.map((k) => parseVerifierKey(k))];
  const savedPath = join(run.stateDir, 'checkpoint');
  const saved = existsSync(savedPath) ? readFileSync(savedPath, 'utf8') : undefined;
  const pinnedPath = join(run.stateDir, 'log-key');
  assertSameLog({
    given: run.logKey,
    pinned: existsSync(pinnedPath) ? readFileSync(pinnedPath, 'utf8').trim() : undefined,
    learned,
    saved,
    verifier,
    stateDir: run.stateDir,
  });
  const checkpointNote = await getText(run.server, '/log/checkpoint');
  const checkpoint = await openFollowingRotations(
    run,
    checkpointNote,
    verifier,
    learned,
    learnedPath,
  );
  const findings: Finding[] = [];
  if (run.cosigners && run.cosigners.threshold > 0)
    findings.push(...unwitnessed(checkpointNote, run.cosigners));

  // 1. Every leaf, its hash recomputed into the checkpoint's root: nothing is taken on trust. Read
  // from the log's tiles and folded into the digest the verdicts are computed from; with a saved
  // state, only the entries since the saved checkpoint, folded into the saved digest.
  const cache = newVerificationCache();
  const followed = await followLog({
    server: run.server,
    stateDir: run.stateDir,
    checkpoint,
    saved: saved ? { note: saved, checkpoint: openCheckpoint(saved, verifier) } : undefined,
    useState: findings.length === 0,
  });
  const { digest } = followed;

  // 2. The witness step: the log must extend what this auditor saw last time. Decided from what the
  // log key signed alone (the saved checkpoint, and the served one the leaves above hash into), not
  // from a consistency proof: a proxy's error page or a mangled answer is nobody's signature.
  if (saved) {
    findings.push(
      ...logInconsistency({
        saved,
        served: checkpointNote,
        previous: openCheckpoint(saved, verifier),
        checkpoint,
        servedRootAt: () => followed.rootAtSaved!,
      }),
    );
  }

  // 3. The pinned root must be this log's: leaf 0 (or a rotation leaf) names it by hash. Another
  // repository's root would make every receipt "unverifiable" and the audit vacuous.
  findings.push(...rootNotNamed(digest.leaves, run.root));

  // 4. Timestamp keys from the trusted root and every root after it.
  const announced = new Map(
    digest.leaves.flatMap(({ leaf }) =>
      leaf.type === 'keys.rotated' ? [[leaf.root_version, leaf.root_sha256] as const] : [],
    ),
  );
  const { keys: timestampKeys, roots } = await trustedTimestampKeys(run, announced, findings);
  // The roots agents' checkpoints are held against (split views), each from checked tiles once.
  const rootsAt = await followed.roots(
    [...checkpointSizes(digest.receipts.runs.values(), run.external ?? [])].filter(
      (size) => size <= checkpoint.size,
    ),
  );
  // Staged releases: the lottery's salt, verified against the log key and every pinned witness, and
  // against each witness's cosigning history (no earlier cosigned checkpoint kept hidden).
  const histories = new SaltHistories(run.witnessLogs ?? [], verifier);
  const rolloutSalts = await fetchRolloutSalts({
    server: run.server,
    leaves: digest.leaves,
    log: verifier,
    witnesses: (run.cosigners?.keys ?? []).map((k) => parseVerifierKey(k)),
    histories,
  });
  findings.push(...histories.findings);
  const report = evaluateFairness({
    cache,
    rolloutSalts,
    digest,
    timestampKeys,
    timestampKeyWindows: timestampKeyWindows(roots, digest.leaves),
    now: run.now,
    extraFindings: findings,
    external: run.external ?? [],
    ...(run.options ? { options: run.options } : {}),
    log: {
      keys: verifier,
      rootAt: (size) => {
        const root = rootsAt.get(size);
        if (!root) throw new FairpatchError('INTERNAL', `no root was read for size ${size}`);
        return root;
      },
    },
  });

  if (!findings.some((f) => f.kind === 'log-inconsistent')) {
    followed.save(checkpointNote);
    writeFileAtomic(savedPath, checkpointNote);
    if (!existsSync(pinnedPath)) writeFileAtomic(pinnedPath, run.logKey.trim() + '\n');
    const announced = announcedLogKeys(digest.leaves.map(({ leaf }) => leaf));
    const keys = [...new Set([...learned, ...announced])];
    if (keys.length > learned.length) writeFileAtomic(learnedPath, JSON.stringify(keys));
  }
  return {
    exitCode: report.verdict === 'FAIR' ? 0 : report.verdict === 'UNFAIR' ? 1 : 2,
    report,
    checkpoint,
  };
}

/**
 * A state directory follows one log: the key it was first pinned to, and the keys that log announced
 * under it (a rotation). A --log-key that is neither contradicts it: refused, never quietly used, so a
 * state (its saved checkpoint, its verified leaves) is never read as another log's. A state saved
 * before the key was kept holds the key in its checkpoint's signature.
 */
export function assertSameLog(input: {
  given: string;
  pinned: string | undefined;
  learned: readonly string[];
  saved: string | undefined;
  verifier: readonly Verifier[];
  stateDir: string;
}): void {
  const given = input.given.trim();
  const contradicted = (saved: string) =>
    new FairpatchError(
      'BAD_REQUEST',
      `--log-key ${given} contradicts the log key saved in --state ${input.stateDir} (${saved}); give that key, or another --state for another log`,
    );
  if (input.pinned !== undefined) {
    if (given !== input.pinned && !input.learned.includes(given)) throw contradicted(input.pinned);
    return;
  }
  if (input.saved === undefined) return;
  try {
    openCheckpoint(input.saved, input.verifier);
  } catch {
    throw contradicted('the key that signed its saved checkpoint');
  }
}

/**
 * Proof: the served checkpoint does not extend the one this auditor saved: the log shrank, or the
 * served log's leaves (which hash into the served checkpoint's root) give another root at the saved
 * size. Both checkpoints are signed by the log key; `servedRootAt` is the root of the served leaves
 * at a size, as the auditor computed it.
 */
export function logInconsistency(input: {
  saved: string;
  served: string;
  previous: Checkpoint;
  checkpoint: Checkpoint;
  servedRootAt: (size: number) => Uint8Array;
}): Finding[] {
  const { previous, checkpoint } = input;
  let reason: string;
  if (previous.size > checkpoint.size)
    reason = `the log shrank from ${previous.size} to ${checkpoint.size}`;
  else {
    const root = Buffer.from(input.servedRootAt(previous.size));
    if (root.equals(previous.rootHash)) return [];
    reason = `the first ${previous.size} leaves of the served log hash to ${root.toString('hex')}, not to the saved checkpoint's root ${previous.rootHash.toString('hex')}`;
  }
  return [
    {
      kind: 'log-inconsistent',
      class: 'proof',
      unfair: true,
      message: `the log's checkpoint of size ${checkpoint.size} is not consistent with the one this auditor saved (size ${previous.size}): the log was rewritten`,
      evidence: { saved_checkpoint: input.saved, served_checkpoint: input.served, reason },
    },
  ];
}

/**
 * The pinned root must be this log's: leaf 0 (or a rotation leaf) names it by hash. Another
 * repository's root would make every receipt "unverifiable" and the audit vacuous.
 */
export function rootNotNamed(
  parsed: ReadonlyArray<{ leaf: Leaf }>,
  root: Envelope<RootSigned>,
): Finding[] {
  const rootHash = sha256Hex(canonicalBytes(root));
  const named = parsed.some(
    ({ leaf }) =>
      (leaf.type === 'repository.created' &&
        root.signed.version === 1 &&
        leaf.root_sha256 === rootHash) ||
      (leaf.type === 'keys.rotated' &&
        leaf.root_version === root.signed.version &&
        leaf.root_sha256 === rootHash),
  );
  if (named) return [];
  return [
    {
      kind: 'root-mismatch',
      class: 'cannot-verify',
      unfair: false,
      message: `the pinned root (version ${root.signed.version}) is not the one this log names: wrong repository, or a root the log never announced`,
      evidence: { root_sha256: rootHash },
    },
  ];
}

/**
 * A checkpoint that enough independent witnesses cosigned is one view shared with them: a split view
 * (one log for this auditor, another for some group) needs those witnesses to be fooled or to lie.
 */
export function unwitnessed(
  note: string,
  cosigners: { keys: string[]; threshold: number },
): Finding[] {
  let names: string[];
  let problem = '';
  try {
    names = verifiedCosigners(
      note,
      cosigners.keys.map((k) => parseVerifierKey(k)),
    ).map((c) => c.name);
  } catch (error) {
    names = [];
    problem = ` (${(error as Error).message})`;
  }
  if (names.length >= cosigners.threshold) return [];
  return [
    {
      kind: 'checkpoint-unwitnessed',
      class: 'cannot-verify',
      unfair: false,
      message: `the served checkpoint carries ${names.length} valid cosignature(s) of the given witnesses, fewer than the ${cosigners.threshold} required${problem}`,
      evidence: { checkpoint: note, cosigned_by: names },
    },
  ];
}

/**
 * Timestamp keys of the pinned root and of every later root the server serves, each checked as a TUF
 * client would and against the hash the log announced for that version: a root the log did not
 * announce, or announced otherwise, is a finding, not a key to trust.
 */
async function trustedTimestampKeys(
  run: AuditRun,
  announced: ReadonlyMap<number, string>,
  findings: Finding[],
): Promise<{
  keys: Map<string, TufKey>;
  roots: Array<{ version: number; keyids: string[] }>;
}> {
  const keys = new Map<string, TufKey>();
  const roots: Array<{ version: number; keyids: string[] }> = [];
  let trusted = run.root.signed;
  const add = (root: RootSigned) => {
    for (const id of root.roles.timestamp.keyids) if (root.keys[id]) keys.set(id, root.keys[id]);
    roots.push({ version: root.version, keyids: [...root.roles.timestamp.keyids] });
  };
  add(trusted);
  for (let version = trusted.version + 1; version < trusted.version + 1000; version++) {
    const response = await get(run.server, `/metadata/${version}.root.json`);
    if (response.status === 404) break;
    if (!response.ok) throw httpFailure(`root ${version}`, response.status);
    const next = parseRoot(parseJson(await response.text(), 'METADATA_INVALID'));
    assertRootSuccessor(trusted, next); // TUF spec 5.3.4, as a client would
    const hash = sha256Hex(canonicalBytes(next));
    if (announced.get(version) !== hash) {
      findings.push({
        kind: 'root-mismatch',
        class: 'cannot-verify',
        unfair: false,
        message: `root ${version} served at /metadata/${version}.root.json is not the one the log announced (${announced.get(version) ?? 'none'})`,
        evidence: { version, served_sha256: hash },
      });
      break;
    }
    trusted = next.signed;
    add(trusted);
  }
  return { keys, roots };
}
