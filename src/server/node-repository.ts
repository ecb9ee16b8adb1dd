import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { FairpatchError } from '../errors.js';
import { readOnlineKeys } from '../keys/keygen.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import { Evidence } from '../release/evidence.js';
import { Repository } from '../release/repository.js';
import type { DeliveryCounter } from '../serving/accounting.js';
import type { RootSigned } from '../tuf/metadata.js';
import type { NodeConfig } from './config.js';
import { leafEvent } from './leaf-events.js';
import type { NodeLog } from './node-log.js';
import type { NodeStorage } from './node-storage.js';
import type { OpsLog } from './ops-log.js';

/**
 * Opens the repository with its log from the first moment: the evidence is built with it, so
 * nothing the node commits while it opens (a root imported from the keys directory) goes unlogged.
 * Leaf 0 comes first; then roots newer than the database's are imported, and a node that cannot
 * sign the tick in effect stops here, naming the key file it lacks.
 */
export async function openRepository(
  storage: NodeStorage,
  nodeLog: NodeLog,
  options: {
    settings: NodeConfig;
    metrics: NodeMetrics;
    counter: DeliveryCounter;
    opsLog: OpsLog;
  },
): Promise<{ repo: Repository; evidence: Evidence }> {
  const { settings, metrics, counter, opsLog } = options;
  const { store, config, clock, embargoStore } = storage;
  let evidence: Evidence | undefined;
  const repo = await Repository.open({
    store,
    config,
    clock,
    minLeadMs: settings.minLeadMs,
    maxHorizonMs: settings.maxHorizonMs,
    signersFor: (root: RootSigned) => readOnlineKeys(settings.keysDir, root),
    onRender: (s) => metrics.rendered(s),
    embargoStore,
    log: (opened) => {
      evidence = new Evidence(
        opened,
        nodeLog.sequencer,
        counter,
        // A host name may be longer than the roll-up leaf takes (253 characters): its end is kept.
        settings.nodeName ?? `${hostname()}:${process.pid}`.slice(-128),
      );
      evidence.onLogged = (leaf, index) => {
        const e = leafEvent(leaf, index);
        if (e) opsLog.log(e.level, e.event, e.message, e.fields);
      };
      return evidence;
    },
  });
  await evidence!.created();
  await importNewRoots(repo, storage.rootFiles);
  // A node that cannot sign the tick in effect would serve nothing but 503s: it stops at once and
  // says which key file it lacks and where to copy it from (KEY_UNAVAILABLE: exit 69).
  repo.view.timestampAt(repo.currentTick());
  for (const note of repo.keyNotes()) console.error(note);
  if (settings.operatorToken) await store.importToken(settings.operatorToken, null, clock.now());
  return { repo, evidence: evidence! };
}

/** Roots newer than the database's (written by `fairpatch root rotate`) are checked and imported. */
async function importNewRoots(
  repo: Repository,
  rootFiles: Array<{ version: number; path: string }>,
): Promise<void> {
  const known = repo.latestRoot().version;
  for (const file of rootFiles.filter((f) => f.version > known)) {
    // Nodes started together import the same file: one lands it, the others load it.
    await repo.addRoot(readFileSync(file.path)).catch(async (error: unknown) => {
      if (!(error instanceof FairpatchError && error.code === 'VERSION_CONFLICT')) throw error;
      await repo.refresh();
    });
  }
}

/**
 * Start-up sweeps: what a crash kept out of the log is logged now (every leaf is idempotent under
 * its dedupe key, so a repeat costs nothing).
 */
export async function catchUpLog(
  repo: Repository,
  evidence: Evidence,
  nodeLog: NodeLog,
): Promise<void> {
  if (nodeLog.nextVerifierKey) await evidence.logKeyRotated(nodeLog.nextVerifierKey);
  await logStagedVersions(repo, evidence);
  await evidence.changeCommitments();
  await evidence.embargoCommitments();
  await evidence.activations();
}

/** A schedule staged just before a crash is logged now. */
async function logStagedVersions(repo: Repository, evidence: Evidence): Promise<void> {
  // Offered all at once, so the sequencer checks and appends them in one batch, not one per version.
  // A version an embargo moved is committed again for its new tick: a crash between the move and that
  // leaf must not leave the log promising the old tick (appends are idempotent, a repeat costs nothing).
  const moved = await repo.embargoes.store.movedTimes();
  const offers = [...repo.view.state.vendors].flatMap(([vendor, versions]) =>
    versions
      .filter((v) => v.kind === 'release' || v.kind === 'halt')
      .flatMap((v) => [
        evidence.staged(vendor, v, v.kind as string),
        ...(moved.has(v.effectiveAt) ? [evidence.staged(vendor, v, v.kind as string, true)] : []),
      ]),
  );
  await Promise.all(offers);
}
