import { FairpatchError } from '../errors.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import type { CommittedState } from './state.js';
import type { OnlineSigners } from './view.js';

/**
 * The online keys of each root this node serves or will serve, looked up once a root is loaded, long
 * before its tick. A key this node lacks is reported at once (one log line, a health problem) and
 * looked for again at every refresh; whatever needs it answers 503 KEY_UNAVAILABLE: a node never
 * goes on signing with the previous root's keys, which would freeze its clients on a stale state.
 */
export class RootKeys {
  private readonly found = new Map<number, OnlineSigners>();
  private readonly missing = new Map<number, string>();

  constructor(
    private readonly signersFor: (root: RootSigned) => OnlineSigners,
    private readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /** Looks up the keys of every root still in effect at `tick` or later. */
  resolve(state: CommittedState, tick: number): void {
    state.roots.forEach((bytes, i) => {
      const version = i + 1;
      const superseded = (state.rootTicks[i + 1] ?? Infinity) <= tick;
      if (this.found.has(version) || superseded) return;
      const root = (JSON.parse(bytes.toString('utf8')) as Envelope<RootSigned>).signed;
      try {
        this.found.set(version, this.signersFor(root));
        if (this.missing.delete(version)) this.log(`keys of root ${version} found`);
      } catch (error) {
        const problem = `this node lacks the online keys of root ${version}, in effect from tick ${state.rootTicks[i] ?? 1}: ${(error as Error).message}`;
        if (!this.missing.has(version)) this.log(problem);
        this.missing.set(version, problem);
      }
    });
  }

  /** The keys of root `version`, or KEY_UNAVAILABLE (503). */
  of(version: number): OnlineSigners {
    const signers = this.found.get(version);
    if (signers) return signers;
    throw new FairpatchError(
      'KEY_UNAVAILABLE',
      this.missing.get(version) ?? `the online keys of root ${version} were not looked up`,
      { details: { retryAfterSeconds: 5 } },
    );
  }

  /** What is missing now, for health reports. */
  problems(): string[] {
    return [...this.missing.values()];
  }
}
