import { FairpatchError } from '../errors.js';
import type { Envelope, RootSigned } from '../tuf/metadata.js';
import type { CommittedState } from '../serving/state.js';
import type { OnlineSigners } from '../serving/view.js';

/**
 * The online keys of each root, looked up once a root is loaded, long before its tick. A key this
 * node lacks for a root it serves or will serve is reported at once (one log line, a health problem)
 * and looked for again at every refresh; whatever needs it answers 503 KEY_UNAVAILABLE: a node never
 * goes on signing with the previous root's keys, which would freeze its clients on a stale state.
 *
 * The keys of a root already superseded are looked up too, once: they sign what was served before the
 * new root's tick (an activation's snapshot, `V.snapshot.json` of an old version), which a restarted
 * node must render to the same bytes. A node without them (its old keys destroyed after a compromise,
 * say) still serves the present; only those old documents answer KEY_UNAVAILABLE, naming the key.
 */
export class RootKeys {
  private readonly found = new Map<number, OnlineSigners>();
  private readonly missing = new Map<number, string>();
  /** Superseded roots whose keys this node does not hold: not a health problem, said once. */
  private readonly retired = new Map<number, string>();

  constructor(
    private readonly signersFor: (root: RootSigned) => OnlineSigners,
    private readonly log: (line: string) => void = (line) => console.error(line),
  ) {}

  /**
   * Looks up the keys of every root; those still in effect at `tick` or later again until found.
   * `announce: false` keeps what is missing unsaid (a node starting up says it once, see `notes`).
   */
  resolve(state: CommittedState, tick: number, announce = true): void {
    const log = announce ? this.log : () => {};
    state.roots.forEach((bytes, i) => {
      const version = i + 1;
      const until = state.rootTicks[i + 1] ?? Infinity;
      const superseded = until <= tick;
      if (this.found.has(version) || (superseded && this.retired.has(version))) return;
      const root = (JSON.parse(bytes.toString('utf8')) as Envelope<RootSigned>).signed;
      try {
        this.found.set(version, this.signersFor(root));
        if (this.missing.delete(version)) log(`keys of root ${version} found`);
      } catch (error) {
        const from = state.rootTicks[i] ?? 1;
        if (superseded) {
          this.missing.delete(version);
          const problem = `this node lacks the online keys of root ${version}, which signed ticks ${from} to ${until - 1}: ${(error as Error).message}`;
          this.retired.set(version, problem);
          log(this.retiredNote(version));
          return;
        }
        const problem = `this node lacks the online keys of root ${version}, in effect from tick ${from}: ${(error as Error).message}`;
        if (!this.missing.has(version)) log(problem);
        this.missing.set(version, problem);
      }
    });
  }

  /** The keys of root `version`, or KEY_UNAVAILABLE (503) saying which key is missing. */
  of(version: number): OnlineSigners {
    const signers = this.found.get(version);
    if (signers) return signers;
    throw new FairpatchError(
      'KEY_UNAVAILABLE',
      this.missing.get(version) ??
        this.retired.get(version) ??
        `the online keys of root ${version} were not looked up`,
      { details: { retryAfterSeconds: 5 } },
    );
  }

  /** Every key this node lacks, one line each: what a node says when it starts. */
  notes(): string[] {
    return [...this.missing.values(), ...[...this.retired.keys()].map((v) => this.retiredNote(v))];
  }

  private retiredNote(version: number): string {
    return `${this.retired.get(version)} (it serves the present; only what root ${version}'s keys signed answers KEY_UNAVAILABLE)`;
  }

  /** What is missing now for a root in effect or to come, for health reports. */
  problems(): string[] {
    return [...this.missing.values()];
  }
}
