import { readEnrollment } from './enrollment-file.js';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../common/files.js';
import { signInstallReport } from '../common/install-report.js';
import { join } from 'node:path';
import PQueue from 'p-queue';
import type { Updater } from 'tuf-js';
import type { Clock } from '../common/clock.js';
import type { PatchFacts, TargetInfo, TargetsSigned } from '../tuf/metadata.js';
import { patchFactsSchema } from '../tuf/schema.js';
import { AgentFetcher, type FetcherOptions } from './fetcher.js';
import { parseAdvisoryFile } from '../advisory/advisory-file.js';
import { runInstall } from './install.js';
import { type AgentIdentity, loadIdentity } from './identity.js';
import { MAX_CHECKPOINT_BYTES, Observer, type Served, lagOf, readServed } from './observer.js';
import { ReceiptStore, receiptBatch } from './receipt-store.js';
import { type WitnessTarget, deliverToWitness } from './witness-delivery.js';
import { selectPatch, whyNot } from './select.js';
import { describeRefusal, refusalOf } from './threats.js';
import { CodedUpdater } from './updater.js';
import { UnknownTargetError } from './errors.js';
import { subscribe } from './events.js';
import { sleep } from './sleep.js';
import { type CheckpointPolicy, CheckpointWatch } from './checkpoint-watch.js';
import { MAX_SALT_EVIDENCE_BYTES, RolloutGate } from './rollout-gate.js';
import { MAX_PAUSE_EVIDENCE_BYTES } from '../rollout/pause-evidence.js';
import { writeGroupFile } from './group-file.js';
import { UnreachableError, reach } from '../net/unreachable.js';
import { ClientError, ServerUnavailableError, expectOk, httpFailure } from '../net/errors.js';
import { httpKeyRotations } from '../net/log-key-rotations.js';
import { textAtMost } from '../net/bounded.js';
import {
  AGENT_PRODUCT,
  AGENT_VENDOR,
  SelfUpdate,
  type SelfUpdateOptions,
  type SelfUpdateResult,
} from './self-update.js';

export interface AgentOptions {
  server: string;
  group: string;
  /** The trusted root the agent starts from (copied into its state on first run). */
  root: string;
  stateDir: string;
  /** The vendor trusted for `product`: only its delegation is searched. */
  vendor: string;
  product: string;
  platform: string;
  currentVersion: string;
  channel: string;
  /** Poll interval; each wait is jittered by ±10 % so a fleet does not poll in lock-step. */
  intervalMs: number;
  /** Shell command run with the artifacts; without one, a verified download counts as installed. */
  install?: string;
  /** Artifacts downloaded at once. Default 4. */
  downloadConcurrency?: number;
  /** Hold the server's event stream (default true); false: poll only. */
  push?: boolean;
  /** More nodes of the same repository, tried when `server` serves a stale statement. */
  servers?: string[];
  /** A served timestamp more than this behind the agent's clock is stale. Default 10 s. */
  maxLagMs?: number;
  /** Witnesses every receipt is delivered to as well, each with its pinned verifier key. */
  witnesses?: WitnessTarget[];
  /** Check the repository's log checkpoint (signed, never rewritten, cosigned) at most every `everyMs` (default 60 s). */
  checkpoint?: CheckpointPolicy & { everyMs?: number };
  /** Update the agent's own executable from the repository's fairpatch/agent releases. */
  selfUpdate?: SelfUpdateOptions;
}

export const DEFAULT_MAX_LAG_MS = 10_000;

export type CycleResult =
  | {
      outcome: 'installed';
      version: string;
      artifacts: string[];
      output?: string;
      /** The advisory its vendor published with the fix (src/advisory), as TUF verified it. */
      advisory?: InstalledAdvisory;
    }
  | { outcome: 'up-to-date'; reason: string }
  /**
   * `code`: the refusal's class (src/agent/errors.ts, src/net/errors.ts), e.g. ROLLBACK;
   * `unreachable`: nothing was refused on its merits, the server could not be reached or
   * answered 5xx (unavailable).
   */
  | { outcome: 'refused'; code: string; threat: string; unreachable?: true }
  | { outcome: 'install-failed'; version: string; code: number | null; output: string };

/** What the agent says of a fix's advisory when it installs the fix. */
export interface InstalledAdvisory {
  id: string;
  title: string;
  cves: string[];
}

/** Lines of the install command's output kept in the log when it fails. */
const FAILED_OUTPUT_LINES = 20;

/** The server (or what stands in front of it) did not answer: unreachable, or a 5xx / 429. */
const isUnavailable = (error: unknown): boolean =>
  error instanceof UnreachableError || error instanceof ServerUnavailableError;

/** A cycle's refusal: the coded error's class and the agent log's line for it. */
function refused(error: unknown): CycleResult {
  const coded = refusalOf(error);
  return {
    outcome: 'refused',
    code: coded instanceof ClientError ? coded.code : 'REFUSED',
    threat: describeRefusal(error),
    ...(isUnavailable(coded) ? { unreachable: true as const } : {}),
  };
}

export interface AgentDeps {
  clock: Clock;
  log?: (line: string) => void;
  fetcher?: FetcherOptions;
}

interface Installed {
  vendor: string;
  product: string;
  version: string;
  installed_at: string;
  targets: string[];
  /** When this agent said the version was withdrawn (halted): said once, not at every poll. */
  withdrawn_noticed_at?: string;
}

/**
 * `fairpatch agent`: tuf-js is the TUF engine (refresh, delegations, verified downloads);
 * this class adds what a customer's machine needs around it: choosing the patch, installing it,
 * remembering what is installed, keeping receipts and reporting outcomes. A refusal never touches
 * the installed version.
 */
export class Agent {
  private readonly dirs: { metadata: string; targets: string; partial: string };
  readonly receipts: ReceiptStore;
  readonly identity: AgentIdentity;
  private readonly observer: Observer;
  private readonly checkpoints: CheckpointWatch | undefined;
  private readonly rollout: RolloutGate;
  private readonly self: SelfUpdate | undefined;
  /**
   * Set once this agent switched to a new executable that reported healthy: the loop ends, and the
   * process exits for its service manager to start the new one (src/cli/agent.ts, exit 75).
   */
  restart: Extract<SelfUpdateResult, { outcome: 'switched' }> | undefined;
  private lastLogCheck = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: AgentOptions,
    private readonly deps: AgentDeps,
  ) {
    const s = options.stateDir;
    this.dirs = {
      metadata: join(s, 'metadata'),
      targets: join(s, 'targets'),
      partial: join(s, 'partial'),
    };
    for (const dir of Object.values(this.dirs)) mkdirSync(dir, { recursive: true });
    if (!existsSync(join(this.dirs.metadata, 'root.json')))
      copyFileSync(options.root, join(this.dirs.metadata, 'root.json'));
    this.receipts = new ReceiptStore(s);
    this.identity = loadIdentity(s);
    this.observer = new Observer(this.identity, options.group, this.receipts);
    this.checkpoints = options.checkpoint && new CheckpointWatch(options.checkpoint, s);
    // Staged releases: this agent decides its own eligibility from signed bytes, salt verified here.
    this.rollout = new RolloutGate(
      {
        ...(options.checkpoint ? { logKey: options.checkpoint.logKey } : {}),
        witnesses: options.checkpoint?.witnesses ?? [],
        fetchEvidence: async (target) => {
          const url = `${options.server}/log/rollout-salt?target=${encodeURIComponent(target)}`;
          const response = await expectOk(await reach(url, { timeoutMs: 10_000 }), url);
          return JSON.parse(await textAtMost(response, MAX_SALT_EVIDENCE_BYTES)) as unknown;
        },
        fetchPauses: async (release) => {
          const url = `${options.server}/log/rollout-pauses?release=${encodeURIComponent(release)}`;
          const response = await expectOk(await reach(url, { timeoutMs: 10_000 }), url);
          return JSON.parse(await textAtMost(response, MAX_PAUSE_EVIDENCE_BYTES)) as unknown;
        },
      },
      this.identity.publicKey,
    );
    this.self = options.selfUpdate && new SelfUpdate(options.selfUpdate, s);
    // Receipts are only evidence together with the group they were served to; export reads this.
    writeGroupFile(s, options.group);
  }

  private log(line: string): void {
    // Every line carries its time: an operator lines the agent's log up with the release tick.
    (
      this.deps.log ??
      ((l: string) => console.log(`${new Date(this.deps.clock.now()).toISOString()} ${l}`))
    )(line);
  }

  /**
   * The paths this agent may be served through, in order: its group's path, the plain path, then the
   * same on every other node it knows. A stale statement on one is retried on the next.
   */
  private paths(): Array<{ server: string; via: string; metadata: string; targets: string }> {
    const servers = [this.options.server, ...(this.options.servers ?? [])].map((s) =>
      s.replace(/\/$/, ''),
    );
    return servers.flatMap((s, i) =>
      [`/g/${this.options.group}`, ''].map((prefix) => ({
        server: s,
        via: `${i === 0 ? '' : s}${prefix || '/'}`,
        metadata: `${s}${prefix}/metadata`,
        targets: `${s}${prefix}/targets`,
      })),
    );
  }

  /** The installed version: the state dir's record, or the version given at start. */
  installed(): Installed | undefined {
    const file = join(this.options.stateDir, 'installed.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Installed) : undefined;
  }

  currentVersion(): string {
    return this.installed()?.version ?? this.options.currentVersion;
  }

  private updater(path = this.paths()[0]!): Updater {
    return new CodedUpdater({
      metadataDir: this.dirs.metadata,
      metadataBaseUrl: path.metadata,
      targetDir: this.dirs.targets,
      targetBaseUrl: path.targets,
      fetcher: new AgentFetcher({ partialDir: this.dirs.partial, ...this.deps.fetcher }),
    });
  }

  /**
   * Refreshes through the group's path and records what was served. A statement more than the lag
   * tolerance behind this machine's clock is testimony of a freeze (a cache or edge holding back the
   * current tick): said in one line, and the other paths are tried until one serves a fresh one.
   */
  private async refreshObserved(pushed: boolean | undefined): Promise<Updater> {
    const maxLag = this.options.maxLagMs ?? DEFAULT_MAX_LAG_MS;
    let last: Updater | undefined;
    const failures: Array<{ via: string; error: string }> = [];
    let firstError: unknown;
    for (const [i, path] of this.paths().entries()) {
      const updater = this.updater(path);
      try {
        await updater.refresh();
      } catch (error) {
        // A path that does not answer (an outage for this group, or one edge) is tried around, and
        // said in the testimony of the path that did; a path that answers with an attack is refused.
        if (!isUnavailable(error)) throw error;
        firstError ??= error;
        failures.push({ via: path.via, error: describeRefusal(error) });
        continue;
      }
      last = updater;
      const served = this.servedTimestamp();
      if (!served) return updater;
      const now = this.deps.clock.now();
      this.observer.record({
        served,
        via: path.via,
        at: now,
        pushed: i === 0 ? pushed : undefined,
        ...(failures.length ? { pathFailures: failures.splice(0) } : {}),
      });
      await this.watchLog(path.server, now);
      // A run of one statement keeps the lag of its first poll; the decision needs this poll's.
      const lag = lagOf(served, now);
      if (lag <= maxLag) return updater;
      this.log(
        `SERVED STALE: ${path.via} served tick ${served.tick}, ${Math.round(lag / 1000)}s behind this machine's clock (tolerance ${maxLag / 1000}s): a cache or edge may be withholding releases from group ${this.options.group} (freeze attack); signed and kept as testimony${i + 1 < this.paths().length ? '; trying the next path' : ''}`,
      );
    }
    if (!last) throw firstError;
    return last;
  }

  /**
   * Fetches the log checkpoint from the server that just answered (at most every `everyMs`), checks
   * it and signs it into the current receipt; a problem is said in one line and kept as testimony.
   */
  private async watchLog(server: string, now: number): Promise<void> {
    const policy = this.options.checkpoint;
    if (!policy || !this.checkpoints || now - this.lastLogCheck < (policy.everyMs ?? 60_000))
      return;
    this.lastLogCheck = now;
    let note: string;
    try {
      const url = `${server}/log/checkpoint`;
      const response = await expectOk(await reach(url, { timeoutMs: 10_000 }), url);
      // A checkpoint is a few lines; what a receipt can carry (base64) bounds what is worth reading.
      note = await textAtMost(response, MAX_CHECKPOINT_BYTES);
    } catch (error) {
      this.log(`log checkpoint not checked: ${describeRefusal(error)}`);
      return;
    }
    let verdict = this.checkpoints.check(note);
    // Signed by a key this agent does not know yet: the log's next key, if the log announced it
    // under one this agent trusts (a log key rotation, followed without anyone's help).
    if (!verdict.ok && verdict.problem === 'invalid') {
      const learned = await this.checkpoints.follow(httpKeyRotations(server));
      for (const vkey of learned) this.log(`log key rotation followed: now also trusting ${vkey}`);
      if (learned.length > 0) verdict = this.checkpoints.check(note);
    }
    if (verdict.ok || verdict.problem !== 'invalid') this.observer.checkpointSeen(note);
    if (!verdict.ok)
      this.log(
        `${{ invalid: 'LOG CHECKPOINT INVALID', 'split-view': 'SPLIT VIEW', unwitnessed: 'UNWITNESSED LOG' }[verdict.problem]}: ${verdict.message}${verdict.problem === 'invalid' ? '' : "; signed into this run's receipt as testimony"}`,
      );
  }

  /** The timestamp tuf-js accepted last (verified, persisted by it), as served. */
  private servedTimestamp(): Served | undefined {
    const file = join(this.dirs.metadata, 'timestamp.json');
    return existsSync(file)
      ? readServed(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
      : undefined;
  }

  /** One poll: refresh, keep the receipt, pick, download, install, report. */
  async cycle(pushed?: boolean): Promise<CycleResult> {
    const { result, updater } = await this.attempt(pushed);
    // Only a running loop polls again; a single cycle (--once) must not promise a retry.
    const retry = this.looping ? 'will retry at the next poll' : 'the next run retries';
    const line =
      result.outcome === 'installed'
        ? `installed ${this.options.product} ${result.version}`
        : result.outcome === 'refused'
          ? `REFUSED: ${result.threat}; installed version unchanged (${this.currentVersion()})`
          : result.outcome === 'install-failed'
            ? `install of ${this.options.product} ${result.version} failed (${result.code === null ? 'did not run to the end' : `exit ${result.code}`}); ${retry}`
            : result.reason;
    this.log(line);
    if (result.outcome === 'installed' && result.advisory)
      this.log(
        `advisory ${result.advisory.id}: ${result.advisory.title} (${result.advisory.cves.join(', ')})`,
      );
    if (result.outcome === 'installed' || result.outcome === 'install-failed') {
      const lines = (result.output ?? '').split('\n').filter((l) => l.trim());
      for (const l of result.outcome === 'install-failed'
        ? lines.slice(-FAILED_OUTPUT_LINES)
        : lines)
        this.log(`  install> ${l}`);
    }
    // After the product's patch: a security fix for what this machine runs comes first.
    if (updater && this.self && !this.restart) await this.updateSelf(this.self, updater);
    await this.submitReceipts().catch((error: unknown) =>
      this.log(`receipts not submitted: ${describeRefusal(error)}`),
    );
    // Independently of the server: a server that swallows receipts must not keep them from a witness.
    // A slow witness must not hold up the next poll either: a running loop does not wait for it.
    const delivery = this.deliverToWitnesses();
    if (!this.looping) await delivery;
    return result;
  }

  /** The cycle's outcome, and the updater that verified the metadata when the refresh succeeded. */
  private async attempt(
    pushed: boolean | undefined,
  ): Promise<{ result: CycleResult; updater?: Updater }> {
    let updater: Updater;
    let targets: Array<[string, TargetInfo]>;
    try {
      updater = await this.refreshObserved(pushed);
      targets = await this.listTargets(updater);
    } catch (error) {
      return { result: refused(error) };
    }
    return { result: await this.patch(updater, targets), updater };
  }

  /** Picks, downloads, installs and reports the product's patch from the verified targets. */
  private async patch(
    updater: Updater,
    targets: Array<[string, TargetInfo]>,
  ): Promise<CycleResult> {
    await this.noticeWithdrawal(updater);
    const wanted = {
      product: this.options.product,
      platform: this.options.platform,
      channel: this.options.channel,
      currentVersion: this.currentVersion(),
    };
    const picked = selectPatch(targets, wanted);
    const first = picked[0];
    if (!first)
      return { outcome: 'up-to-date', reason: whyNot(targets, wanted, this.options.vendor) };
    const facts: PatchFacts = first.info.custom;
    const staged = await this.rollout.decide({
      vendor: this.options.vendor,
      facts,
      target: { path: first.path, sha256: first.info.hashes.sha256 },
      served: this.servedTimestamp(),
      targets,
    });
    if (staged) {
      const { reason, ...decided } = staged;
      this.observer.rolloutDecided(decided);
      if (!staged.eligible) return { outcome: 'up-to-date', reason };
    }

    let files: Array<{ path: string; target: string }>;
    try {
      const queue = new PQueue({ concurrency: this.options.downloadConcurrency ?? 4 });
      files = await Promise.all(
        picked.map((c) =>
          queue.add(async () => {
            const info = await updater.getTargetInfo(c.path);
            if (!info) throw new UnknownTargetError(c.path);
            try {
              const path =
                (await updater.findCachedTarget(info)) ?? (await updater.downloadTarget(info));
              return { path, target: c.path };
            } catch (error) {
              this.observer.artifactFailed(c.path, describeRefusal(error), this.deps.clock.now());
              throw error;
            }
          }),
        ),
      );
    } catch (error) {
      return refused(error);
    }

    let output: string | undefined;
    if (this.options.install) {
      const outcome = await runInstall(this.options.install, files, facts);
      if (!outcome.ok) {
        if (staged) this.observer.rolloutDecided({ ...staged, outcome: 'failed' });
        await this.report(facts, 'failed');
        return {
          outcome: 'install-failed',
          version: facts.version,
          code: outcome.code,
          output: outcome.output,
        };
      }
      output = outcome.output;
    }
    this.recordInstalled({
      vendor: this.options.vendor,
      product: facts.product,
      version: facts.version,
      installed_at: new Date(this.deps.clock.now()).toISOString(),
      targets: files.map((f) => f.target),
    });
    if (staged) this.observer.rolloutDecided({ ...staged, outcome: 'installed' });
    await this.report(facts, 'installed');
    const advisory = await this.advisoryOf(updater, targets, facts);
    return {
      outcome: 'installed',
      version: facts.version,
      artifacts: files.map((f) => f.path),
      ...(output !== undefined ? { output } : {}),
      ...(advisory ? { advisory } : {}),
    };
  }

  /**
   * The advisory published with the installed fix: its own target beside the fix's in the same
   * verified metadata, downloaded and checked by tuf-js like an artifact. One that cannot be read
   * is said in the log; it never undoes an install.
   */
  private async advisoryOf(
    updater: Updater,
    targets: Array<[string, TargetInfo]>,
    facts: PatchFacts,
  ): Promise<InstalledAdvisory | undefined> {
    const found = targets.find(
      ([, t]) =>
        t.custom?.advisory !== undefined &&
        t.custom.product === facts.product &&
        t.custom.version === facts.version,
    );
    if (!found) return undefined;
    try {
      const info = await updater.getTargetInfo(found[0]);
      if (!info) throw new UnknownTargetError(found[0]);
      const path = (await updater.findCachedTarget(info)) ?? (await updater.downloadTarget(info));
      const { advisory } = parseAdvisoryFile(readFileSync(path));
      return { id: advisory.id, title: advisory.title, cves: advisory.cves.map((c) => c.id) };
    } catch (error) {
      this.log(`advisory ${found[0]} not read: ${describeRefusal(error)}`);
      return undefined;
    }
  }

  /**
   * The targets of the trusted vendor, each as tuf-js verified it for its path through the delegation
   * that path belongs to (TUF spec 5.6.7.2, preorder search). The role file on disk only lists the names
   * to ask for; every fact acted on comes from the verified answer, so nothing another vendor signed,
   * and nothing a tampered file says, can reach selection or the install command.
   */
  private async listTargets(
    updater: Updater,
    vendor = this.options.vendor,
  ): Promise<Array<[string, TargetInfo]>> {
    // Looking up any path under the role makes tuf-js load and verify the role's metadata.
    await updater.getTargetInfo(`${vendor}/fairpatch-probe`); // no leading dot: "*" does not match dotfiles
    const file = join(this.dirs.metadata, `${encodeURIComponent(vendor)}.json`);
    const names = existsSync(file)
      ? Object.keys(
          (JSON.parse(readFileSync(file, 'utf8')) as { signed: TargetsSigned }).signed.targets ??
            {},
        )
      : [];
    const out: Array<[string, TargetInfo]> = [];
    for (const path of names.filter((p) => p.startsWith(`${vendor}/`))) {
      const verified = await updater.getTargetInfo(path);
      const facts = patchFactsSchema.safeParse(verified?.custom);
      // A target whose facts cannot be read is never offered, rather than guessed at.
      if (verified && facts.success)
        out.push([
          path,
          {
            length: verified.length,
            hashes: { sha256: verified.hashes.sha256 ?? '' },
            custom: facts.data,
          },
        ]);
    }
    return out;
  }

  /**
   * The installed version's artifacts no longer in its vendor's verified metadata: the vendor halted
   * (withdrew) it. Said once, with what to do, and remembered in the installed record so that later
   * polls (and later `--once` runs) stay quiet; installing a newer version replaces the record.
   */
  private async noticeWithdrawal(updater: Updater): Promise<void> {
    const installed = this.installed();
    if (
      !installed ||
      installed.vendor !== this.options.vendor ||
      installed.withdrawn_noticed_at ||
      !Array.isArray(installed.targets) ||
      installed.targets.length === 0
    )
      return;
    const gone: string[] = [];
    for (const target of installed.targets)
      if (!(await updater.getTargetInfo(target))) gone.push(target);
    if (gone.length === 0) return;
    this.log(
      `WITHDRAWN: ${installed.product} ${installed.version}, installed here ${installed.installed_at}, was withdrawn by its vendor ${installed.vendor} (halted: its signed metadata no longer lists ${gone.join(', ')}). Read the vendor's advisory and roll back to your previous version if it says so (this agent never downgrades); the vendor's next release is installed when it is published.`,
    );
    this.recordInstalled({
      ...installed,
      withdrawn_noticed_at: new Date(this.deps.clock.now()).toISOString(),
    });
  }

  /**
   * The agent's own update: the newest fairpatch/agent release for this machine, downloaded through
   * the same verified path as a patch, switched to and health-checked (src/agent/self-update.ts). A
   * new executable that does not come up is rolled back and reported; the old one keeps running.
   */
  private async updateSelf(self: SelfUpdate, updater: Updater): Promise<void> {
    const name = `${AGENT_VENDOR}/${AGENT_PRODUCT}`;
    // This poll succeeded: if this executable was just switched to, it has come up.
    self.confirm();
    const undone = self.takeLauncherRollback(() => this.deps.clock.now());
    if (undone) {
      this.log(
        `SELF-UPDATE ROLLED BACK: ${name} ${undone} did not come up under the service manager (3 starts); fairpatch-agent-start put ${self.options.version} back; ${undone} is not tried again`,
      );
      await this.report({ product: AGENT_PRODUCT, version: undone }, 'failed');
    }
    let targets: Array<[string, TargetInfo]>;
    try {
      targets = await this.listTargets(updater, AGENT_VENDOR);
    } catch (error) {
      this.log(`self-update: ${name} releases not read: ${describeRefusal(error)}`);
      return;
    }
    const pick = self.pick(targets);
    if (!pick) return;
    const facts = pick.info.custom;
    this.log(
      `self-update: ${name} ${facts.version} is released; switching from ${self.options.version}`,
    );
    let result: SelfUpdateResult;
    try {
      result = await self.switchTo(
        facts.version,
        async (to) => {
          const info = await updater.getTargetInfo(pick.path);
          if (!info) throw new UnknownTargetError(pick.path);
          await updater.downloadTarget(info, to);
        },
        () => this.deps.clock.now(),
      );
    } catch (error) {
      this.log(
        `self-update: ${name} ${facts.version} not switched to: ${describeRefusal(error)}; still running ${self.options.version}, will retry at the next poll`,
      );
      return;
    }
    if (result.outcome === 'switched') {
      this.log(
        `SELF-UPDATE: switched to ${name} ${result.to} (from ${result.from}), which reports healthy; exiting for the service manager to start it`,
      );
      await this.report(facts, 'installed');
      this.restart = result;
      this.stopForRestart?.();
      return;
    }
    this.log(
      `SELF-UPDATE ROLLED BACK: ${name} ${result.version} did not come up (${result.reason}); back to ${self.options.version}, which keeps running; ${result.version} is not tried again`,
    );
    await this.report(facts, 'failed');
  }

  private recordInstalled(installed: Installed): void {
    const file = join(this.options.stateDir, 'installed.json');
    writeFileAtomic(file, JSON.stringify(installed, null, 2) + '\n');
  }

  private async post(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.options.server.replace(/\/$/, '')}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  }

  private async report(
    facts: Pick<PatchFacts, 'product' | 'version'>,
    outcome: 'installed' | 'failed',
  ): Promise<void> {
    try {
      // Signed by the agent's key, like its receipts: the server counts only what an agent signed.
      const signed = signInstallReport(
        {
          v: 1,
          agent: this.identity.publicKey,
          group: this.options.group,
          product: facts.product,
          version: facts.version,
          outcome,
          at: new Date(this.deps.clock.now()).toISOString(),
        },
        this.identity.seed,
      );
      // With the owner's certificate: any node, even one that never saw our receipts, knows we are vouched.
      const response = await this.post('/reports', {
        ...signed,
        ...enrolled(readEnrollment(this.options.stateDir)),
      });
      if (!response.ok) this.log(`install report not accepted: HTTP ${response.status}`);
    } catch (error) {
      this.log(`install report not sent: ${describeRefusal(error)}`);
    }
  }

  /** Hands unsubmitted receipts to the server in batches; kept locally (and exportable) either way. */
  async submitReceipts(): Promise<number> {
    const pending = this.receipts.unsubmitted();
    let sent = 0;
    for (let i = 0; i < pending.length; i += 500) {
      const batch = pending.slice(i, i + 500);
      const response = await this.post(
        '/receipts',
        receiptBatch(batch, readEnrollment(this.options.stateDir)),
      );
      if (response.status === 404) return sent; // a server without the endpoint: export them instead
      if (!response.ok) throw httpFailure('/api/v1/receipts', response.status);
      this.receipts.markSubmitted(batch);
      sent += batch.length;
    }
    return sent;
  }

  private delivering: Promise<void> | undefined;

  /** Delivers pending receipts to each witness (one round at a time); one that fails is retried at the next cycle. */
  deliverToWitnesses(): Promise<void> {
    this.delivering ??= (async () => {
      for (const witness of this.options.witnesses ?? []) {
        await deliverToWitness(witness, this.receipts, {
          ...enrolled(readEnrollment(this.options.stateDir)),
        }).catch((error: unknown) =>
          this.log(`receipts not delivered to witness ${witness.url}: ${describeRefusal(error)}`),
        );
      }
    })().finally(() => {
      this.delivering = undefined;
    });
    return this.delivering;
  }

  private running: Promise<CycleResult> | undefined;
  private looping = false;
  private again = false;

  /**
   * Runs a cycle now, or right after the one in progress (events never pile up cycles). `push`: a
   * push event started it; while the stream is up, a poll the timer started says so in its testimony.
   */
  trigger(push = false): Promise<CycleResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.cycle(this.streamUp ? push : undefined).finally(() => {
      this.running = undefined;
      if (this.again && !this.restart) {
        this.again = false;
        void this.trigger();
      }
    });
    return this.running;
  }

  private stopForRestart: (() => void) | undefined;

  /** Whether the event stream is up (then polling only runs as a slow safety net). */
  streamUp = false;

  /**
   * Runs until `signal` aborts: holds the event stream and refreshes the moment an
   * activation is announced, with no jitter (fairness first); polls every interval ±10 % while the
   * stream is down, and every ten intervals while it is up, in case an event was missed.
   */
  async run(outer: AbortSignal): Promise<void> {
    this.looping = true;
    // Ends on the caller's abort, or when a self-update switched executables (the stream too).
    const stop = new AbortController();
    const signal = stop.signal;
    if (outer.aborted) stop.abort();
    outer.addEventListener('abort', () => stop.abort(), { once: true });
    this.stopForRestart = () => stop.abort();
    if (this.options.push !== false) {
      void subscribe(`${this.options.server.replace(/\/$/, '')}/g/${this.options.group}/events`, {
        signal,
        // `state` arrives on every (re)connect: an activation missed while disconnected is caught up.
        onEvent: (e) => {
          if (e.event === 'activation') void this.trigger(true);
          else if (e.event === 'state') void this.trigger();
        },
        onState: (up) => {
          this.streamUp = up;
        },
      });
    }
    while (!signal.aborted) {
      await this.trigger();
      await sleep(
        this.options.intervalMs * (this.streamUp ? 10 : 1) * (0.9 + Math.random() * 0.2),
        signal,
      );
    }
  }
}

const enrolled = <T>(enrollment: T | undefined): { enrollment?: T } =>
  enrollment ? { enrollment } : {};
