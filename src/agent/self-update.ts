import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../common/files.js';
import type { TargetInfo } from '../tuf/metadata.js';
import { type Candidate, selectPatch } from './select.js';

// The agent is a product of the repository it polls: fairpatch/agent, one executable per platform,
// signed by the `fairpatch` vendor's delegated key and verified by TUF like any patch. The switch
// happens beside the running executable, in a directory the agent may write:
//   DIR/fairpatch-agent           what starts next (the systemd unit's launcher prefers it)
//   DIR/fairpatch-agent.previous  the executable before the last switch, for a rollback
//   DIR/fairpatch-agent.next      a verified download, renamed over fairpatch-agent when complete
// so the directory never holds more than three executables. The health check runs before the old
// agent exits; a new executable that passes it and then fails under the service manager is caught
// by the unit's launcher (packaging/agent/fairpatch-agent-start), which counts starts in
//   DIR/fairpatch-agent.unconfirmed  the version switched to; its first successful poll removes it
// and after three starts without one puts the previous executable back, naming the version in
//   DIR/fairpatch-agent.rolled-back  for the agent to remember as failed and report.

export const AGENT_VENDOR = 'fairpatch';
export const AGENT_PRODUCT = 'agent';
export const EXECUTABLE = 'fairpatch-agent';
const UNCONFIRMED = `${EXECUTABLE}.unconfirmed`;
const ROLLED_BACK = `${EXECUTABLE}.rolled-back`;
/** What a version looks like in the launcher's files: anything else there is not read as one. */
const VERSION_TEXT = /^[0-9A-Za-z.+-]{1,64}$/;

export interface SelfUpdateOptions {
  /** The directory of the executable this agent runs as after its first self-update. */
  dir: string;
  /** The executable running now (process.execPath): kept as the previous one. */
  running: string;
  /** Its version stamp: releases of fairpatch/agent newer than this are switched to. */
  version: string;
  /** This machine's platform as releases name it, e.g. linux-x64. */
  platform: string;
  channel: string;
  /** Arguments that make an executable check these settings and print `healthy VERSION`. */
  healthArgs: string[];
  /** How long a new executable has to report healthy (default 30 s). */
  healthDeadlineMs?: number;
}

export type SelfUpdateResult =
  | { outcome: 'switched'; from: string; to: string }
  | { outcome: 'rolled-back'; version: string; reason: string };

/** Versions whose executable did not come up here, remembered so that no poll downloads them again. */
interface FailedVersions {
  failed: Array<{ version: string; reason: string; at: string }>;
}
/** The newest ones only: a new version of the agent is what ends a run of failures, not this list. */
const FAILED_KEPT = 20;
/** Output of a failed health check kept for the log line. */
const OUTPUT_KEPT = 2000;

export class SelfUpdate {
  private readonly record: string;

  constructor(
    readonly options: SelfUpdateOptions,
    stateDir: string,
  ) {
    mkdirSync(options.dir, { recursive: true });
    this.record = join(stateDir, 'self-update.json');
  }

  private path(name: string): string {
    return join(this.options.dir, name);
  }

  /**
   * Called after a successful poll: an executable switched to has come up under its service manager,
   * so the launcher stops counting its starts.
   */
  confirm(): void {
    const marker = this.path(UNCONFIRMED);
    if (existsSync(marker) && firstLine(marker) === this.options.version) rmSync(marker);
  }

  /**
   * The version the launcher rolled back from (it never confirmed), once: remembered as failed so
   * that no poll switches to it again, and returned for the agent to say and report.
   */
  takeLauncherRollback(now: () => number): string | undefined {
    const file = this.path(ROLLED_BACK);
    if (!existsSync(file)) return undefined;
    const version = firstLine(file);
    rmSync(file);
    if (!VERSION_TEXT.test(version)) return undefined;
    this.remember(version, 'did not come up under the service manager (3 starts)', now);
    return version;
  }

  private remember(version: string, reason: string, now: () => number): void {
    const failed = [
      ...this.failedVersions(),
      { version, reason, at: new Date(now()).toISOString() },
    ].slice(-FAILED_KEPT);
    writeFileAtomic(this.record, JSON.stringify({ failed }, null, 2) + '\n');
  }

  failedVersions(): FailedVersions['failed'] {
    if (!existsSync(this.record)) return [];
    const parsed = JSON.parse(readFileSync(this.record, 'utf8')) as Partial<FailedVersions>;
    return Array.isArray(parsed.failed) ? parsed.failed : [];
  }

  /**
   * The release to switch to: the newest fairpatch/agent release for this platform and channel that
   * applies to the running version and is newer (never a downgrade), skipping versions that already
   * failed their health check here.
   */
  pick(targets: Array<[string, TargetInfo]>): Candidate | undefined {
    const failed = new Set(this.failedVersions().map((f) => f.version));
    const picked = selectPatch(
      targets.filter(([, t]) => !failed.has(t.custom?.version ?? '')),
      {
        product: AGENT_PRODUCT,
        platform: this.options.platform,
        channel: this.options.channel,
        currentVersion: this.options.version,
      },
    );
    return picked.find((c) => c.info.custom.platform === this.options.platform) ?? picked[0];
  }

  /**
   * Downloads `version` (through `download`, which writes TUF-verified bytes), switches to it with one
   * rename, and runs its health check; a new executable that does not report healthy in time is
   * renamed back over by the previous one, and its version remembered as failed.
   */
  async switchTo(
    version: string,
    download: (to: string) => Promise<void>,
    now: () => number,
  ): Promise<SelfUpdateResult> {
    const current = this.path(EXECUTABLE);
    const previous = this.path(`${EXECUTABLE}.previous`);
    const next = this.path(`${EXECUTABLE}.next`);
    rmSync(next, { force: true });
    await download(next);
    chmodSync(next, 0o755);

    // The running executable is kept first, so that a rollback always has something to go back to.
    const keeping = `${previous}.tmp`;
    rmSync(keeping, { force: true });
    if (resolve(this.options.running) === current) linkSync(current, keeping);
    else copyFileSync(this.options.running, keeping);
    chmodSync(keeping, 0o755);
    renameSync(keeping, previous);

    // Before the switch: from here on, whatever happens to this process, the launcher can roll back.
    writeFileAtomic(this.path(UNCONFIRMED), `${version}\n`, 0o644);
    renameSync(next, current);
    const health = await healthCheck(
      current,
      this.options.healthArgs,
      version,
      this.options.healthDeadlineMs ?? 30_000,
    );
    if (health.ok) return { outcome: 'switched', from: this.options.version, to: version };

    renameSync(previous, current);
    rmSync(this.path(UNCONFIRMED), { force: true });
    this.remember(version, health.reason, now);
    return { outcome: 'rolled-back', version, reason: health.reason };
  }
}

const firstLine = (file: string): string =>
  readFileSync(file, 'utf8').slice(0, 200).split('\n')[0]!.trim();

/**
 * Starts `executable` with `args` and waits (at most `deadlineMs`) for it to exit 0 having printed
 * `healthy VERSION` with the version it was released as: an executable that does not start, crashes,
 * hangs, or is some other version than its release says is not healthy.
 */
export function healthCheck(
  executable: string,
  args: string[],
  version: string,
  deadlineMs: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((done) => {
    const child = spawn(executable, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: deadlineMs,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let output = '';
    const keep = (chunk: Buffer, out: boolean) => {
      if (out) stdout = (stdout + chunk.toString()).slice(-OUTPUT_KEPT);
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', (c: Buffer) => keep(c, true));
    child.stderr.on('data', (c: Buffer) => keep(c, false));
    child.on('error', (error) => done({ ok: false, reason: `did not start: ${error.message}` }));
    child.on('close', (code, signal) => {
      const said = output.trim().split('\n').at(-1)?.trim();
      const detail = said ? `; last line: ${said.slice(0, 200)}` : '';
      if (signal) done({ ok: false, reason: `not healthy within ${deadlineMs} ms (${signal})` });
      else if (code !== 0) done({ ok: false, reason: `exit ${code}${detail}` });
      else if (!stdout.split('\n').some((l) => l.trim() === `healthy ${version}`))
        done({ ok: false, reason: `did not report "healthy ${version}"${detail}` });
      else done({ ok: true });
    });
  });
}
