import { randomBytes } from 'node:crypto';
import { ed25519PublicKey } from '../../src/common/ed25519.js';
import {
  type OwnersByGroup,
  type SignedEnrollment,
  signEnrollment,
} from '../../src/common/enrollment.js';

const DAY = 86_400_000;

/**
 * One owner key per group, as tenants or regional CERTs would hold them: `owners` is what the operator
 * declares (or an auditor pins), `certify` what an owner hands each of its agents.
 */
export class GroupOwners {
  private readonly seeds = new Map<string, Buffer>();

  constructor(
    groups: readonly string[],
    private readonly now: () => number = Date.now,
    private readonly quorum?: number,
  ) {
    for (const g of groups) this.seeds.set(g, randomBytes(32));
  }

  get owners(): OwnersByGroup {
    return Object.fromEntries(
      [...this.seeds].map(([g, seed]) => [
        g,
        {
          keys: [ed25519PublicKey(seed).toString('hex')],
          ...(this.quorum ? { quorum: this.quorum } : {}),
        },
      ]),
    );
  }

  /** The owner of `group` vouches for `agent` (hex key), from a day ago for a year. */
  certify(group: string, agent: string): SignedEnrollment {
    const seed = this.seeds.get(group);
    if (!seed) throw new Error(`no owner for group ${group}`);
    const t = this.now();
    return signEnrollment(
      {
        v: 1,
        group,
        agent,
        owner: ed25519PublicKey(seed).toString('hex'),
        issued_at: new Date(t - DAY).toISOString(),
        expires_at: new Date(t + 365 * DAY).toISOString(),
      },
      seed,
    );
  }
}

/** Declares the fixture's groups with an owner each, as an operator would: agents they certify are vouched. */
export async function declareVouched(
  fx: {
    clock: { now(): number };
    node: { appDeps: { declareGroups?: (g: string[], o?: OwnersByGroup) => Promise<number> } };
  },
  groups: string[],
): Promise<GroupOwners> {
  const owners = new GroupOwners(groups, () => fx.clock.now());
  await fx.node.appDeps.declareGroups!(groups, owners.owners);
  return owners;
}
