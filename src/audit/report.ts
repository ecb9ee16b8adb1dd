import type { AdvisoryPublication } from './advisories.js';
import type { OwnersByGroup } from '../common/enrollment.js';

// What an audit returns: a verdict, per release and group what the evidence shows, and every finding
// with its class (what it rests on) and its evidence.

export interface AuditOptions {
  /** A statement served more than this after its tick started is stale (agents use the same tolerance). */
  maxLagMs: number;
  /** How long after a release's activation tick the auditor waits for its activation leaf. */
  activationGraceMs: number;
  /** Distinct vouched agent keys whose testimony convicts, for a group whose owner set no quorum. */
  quorum: number;
  /** A group still served without a release this long after its activation tick was not served it. */
  maxGapMs: number;
  /** Agent keys a group's owner vouches for (`--clients`): one of them is enough testimony for that group. */
  pinned: Readonly<Record<string, readonly string[]>>;
  /** Owner keys the auditor pins per group (`--owners`): they win over what the operator declared. */
  owners: OwnersByGroup;
}

export const DEFAULT_AUDIT_OPTIONS: AuditOptions = {
  maxLagMs: 10_000,
  activationGraceMs: 60_000,
  quorum: 1,
  maxGapMs: 10_000,
  pinned: {},
  owners: {},
};

export type FindingKind =
  // proof: checkable from server-signed data alone
  | 'equivocation'
  | 'activation-late'
  | 'activation-missing'
  | 'early-release'
  | 'commitment-mismatch'
  | 'log-inconsistent'
  | 'stale-after-activation'
  | 'embargo-split'
  | 'embargo-commitment-mismatch'
  /** The log key signed, for some agent, a checkpoint the log shown to the auditor contradicts. */
  | 'log-split-view'
  /** A snapshot version served (signed, or logged) that no logged activation or renewal explains. */
  | 'change-unlogged'
  /** A change went live that was not committed before its tick, or not as committed. */
  | 'change-uncommitted'
  /** An advisory and its fix went public at different ticks (their vendor versions' activation leaves). */
  | 'advisory-skew'
  // testimony: signed by agents
  | 'served-stale'
  | 'served-without-release'
  | 'push-missing'
  | 'artifacts-unavailable'
  | 'group-path-failing'
  /** Vouched agents were served an earlier stage of a staged release than was open for everyone. */
  | 'rollout-stage-behind'
  /** Vouched agents were served a later stage than was open for everyone: a favoured group. */
  | 'rollout-stage-ahead'
  /** Vouched agents whose cohort was in the open stage signed that they were not eligible. */
  | 'rollout-denied'
  /** A group's eligible count of a staged release lies beyond 4σ of the plan's share. */
  | 'rollout-parity'
  /** A staged release's lottery salt could not be verified, or the operator could have chosen it. */
  | 'rollout-salt-unverified'
  | 'rollout-salt-operator-chosen'
  /** Every pinned witness logged cosigning an earlier checkpoint holding the activation (proof). */
  | 'rollout-salt-withheld'
  /** The node paused a staged release on fewer vouched failures than the plan's threshold (proof). */
  | 'rollout-auto-pause-unjustified'
  /** Vouched agents signed the plan's threshold of failures and no automatic pause was logged. */
  | 'rollout-auto-pause-missing'
  // what keeps a verdict from being FAIR without making it UNFAIR
  | 'no-evidence'
  | 'groups-undeclared'
  | 'root-mismatch'
  /** The served checkpoint carries fewer valid witness cosignatures than the auditor requires. */
  | 'checkpoint-unwitnessed'
  // notes
  | 'receipt-unverifiable'
  /** The auditor's pinned owner keys for a group differ from the operator's declaration. */
  | 'owner-mismatch'
  | 'receipt-unsigned';

export type FindingClass = 'proof' | 'testimony' | 'cannot-verify' | 'note';

export interface Finding {
  kind: FindingKind;
  class: FindingClass;
  /** Only proof, or corroborated testimony, makes the verdict UNFAIR. */
  unfair: boolean;
  group?: string;
  release?: string;
  message: string;
  evidence: Record<string, unknown>;
  /** Testimony: the agent keys that signed it, and where their receipts came from. */
  witnesses?: string[];
  sources?: string[];
}

export interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

/** One group's delivery of one release, as its agents signed it (times from release_at, ms). */
export interface ReleaseDelivery {
  /** Earliest receipt of a statement carrying the release. */
  firstDeliveryMs: number;
  /** Latest receipt of a statement without it after its activation: the other bound. */
  lastWithoutMs?: number;
  /** Agents in the group with a receipt carrying the release. */
  agents: number;
  /** The figures rest on receipts of agents the group's owner vouched for (only those cover a group). */
  vouched?: boolean;
  source: 'receipt' | 'rollup';
  stalePolls: number;
  leafIndex: number;
  /** The push at the activation tick, as the nodes rolled it up. */
  notification?: { connections: number; delayMs: number };
}

export interface ReleaseReport {
  id: string;
  vendor: string;
  metadataVersion: number;
  /** Product and version of what went live, once known (at activation). */
  title?: string;
  /** The highest severity and the CVEs its targets name (vendor metadata, custom fields), once live. */
  severity?: 'low' | 'medium' | 'high' | 'critical';
  cves?: string[];
  releaseAt: number;
  targets: string[];
  scheduledLeaf: number;
  /** The tick its latest schedule committed it to (an embargo move commits a version again). */
  scheduledTick: number;
  /** Withdrawn by a halt (before or after it went live): `withdrawn` says when and by which leaf. */
  halted?: boolean;
  withdrawn?: Withdrawal;
  /** Went live inside a later version activated at its own tick (that version's number). */
  carriedBy?: number;
  /** The advisories this version made public, each with the tick its fix went public. */
  advisories?: AdvisoryPublication[];
  activation?: {
    tick: number;
    tickStart: number;
    delayMs: number;
    snapshotVersion: number;
    leaf: number;
  };
  groups: Record<string, ReleaseDelivery>;
  /** A staged release: per stage and group, who was eligible by the lottery (src/audit/rollout.ts). */
  rollout?: RolloutReport;
  equityGapMs?: number;
  /** The gap's uncertainty: the widest bound between a group's last receipt without and first with it. */
  equityGapUncertaintyMs?: number;
}

/**
 * A release's targets leaving the vendor's live metadata: at the tick a later version (a halt) that no
 * longer carries them activated, as its activation leaf (the vendor-signed metadata) shows.
 */
export interface Withdrawal {
  tick: number;
  tickStart: number;
  /** The vendor metadata version that withdrew it, and its activation leaf. */
  metadataVersion: number;
  leaf: number;
  /** Withdrawn before its own tick: it was never served. */
  beforeLive: boolean;
}

/** One coordinated release (an advisory), as revealed at its tick, and each member's delivery. */
export interface EmbargoReport {
  id: string;
  tick: number;
  tickStart: number;
  /** The snapshot version that carried every shipped member, when it was one. */
  snapshotVersion?: number;
  leftOut: string[];
  decisions: Array<{ decision: string; member?: string; activation_tick: number }>;
  revealedLeaf: number;
  members: Record<
    string,
    {
      status: 'shipped' | 'early' | 'pending' | 'left-out' | 'not-shipped';
      release?: string;
      activationTick?: number;
      snapshotVersion?: number;
      /** Per group: first receipt carrying the fix, ms after the embargo's time. */
      groups: Record<string, { firstDeliveryMs: number; lastWithoutMs?: number }>;
    }
  >;
}

export type Verdict = 'FAIR' | 'UNFAIR' | 'CANNOT_VERIFY';

export interface FairnessReport {
  verdict: Verdict;
  logSize: number;
  tickMs: number;
  declaredGroups?: string[];
  releases: ReleaseReport[];
  embargoes: EmbargoReport[];
  groups: Record<
    string,
    {
      receipts: number;
      agents: number;
      vouchedAgents: number;
      staleness: Percentiles;
      polls: number;
    }
  >;
  /**
   * Polls the nodes rolled up under a bucket rather than a group (`_`: no group in the path,
   * `_undeclared`: a name the operator did not declare, `_overflow`: past the per-window bound).
   * They are no customer group: kept out of `groups` and its count.
   */
  unattributedPolls?: Record<string, number>;
  /** Per source of receipts (the log, each witness, each receipts file): the runs it supplied. */
  evidence?: Record<string, { receipts: number; agents: number }>;
  /** Per group with owners: where its owner keys came from, its quorum, and how many agents they vouch for. */
  owners: Record<string, { source: string; quorum: number; vouchedAgents: number }>;
  findings: Finding[];
}

/** A staged release's audit: the plan, the salt, and per stage and group the eligible count and parity. */
export interface RolloutReport {
  release: string;
  plan: string;
  salt?: { checkpoint: number; witnesses: string[]; operatorChosen: boolean };
  stages: Array<{
    stage: number;
    percent_bp: number;
    tick: number;
    groups: Record<
      string,
      {
        /** Vouched agents of the group the auditor saw. */
        agents: number;
        /** Those the lottery puts in this stage, recomputed by the auditor (absent: no salt). */
        eligible?: number;
        expected?: number;
        sigma?: number;
        deviation?: number;
        within?: boolean;
        /** Vouched agents whose certificate the log did not hold before the salt: not counted. */
        late?: number;
        /** Agents that signed they were eligible at this stage, and how their install went. */
        claimedEligible: number;
        installed: number;
        failed: number;
      }
    >;
  }>;
}
