import { Hono } from 'hono';
import { z } from 'zod';
import { groupName } from '../../common/names.js';
import { type OwnersByGroup, ownersByGroupSchema } from '../../common/enrollment.js';
import type { RepositoryStore } from '../../release/store.js';
import { parseWith } from '../../tuf/schema.js';
import { type AuthEnv, operatorOnly, requireToken } from '../auth.js';
import { readJson } from '../body.js';

export const declarationSchema = z
  .strictObject({
    groups: z.array(groupName).min(1).max(10_000),
    /** Per group, the owner keys that vouch for its agents (src/common/enrollment.ts). */
    owners: ownersByGroupSchema.optional(),
  })
  .refine((d) => Object.keys(d.owners ?? {}).every((g) => d.groups.includes(g)), {
    message: 'owners: every group with owners must be one of the declared groups',
    path: ['owners'],
  });

/**
 * The customer groups this repository serves, declared by the operator into the log: an auditor
 * then covers every one of them, and a declared group without evidence is "cannot verify", never FAIR.
 */
export function groupRoutes(deps: {
  store: RepositoryStore;
  declare: (groups: string[], owners: OwnersByGroup) => Promise<number>;
  maxJsonBytes: number;
}): Hono<AuthEnv> {
  const app = new Hono<AuthEnv>();
  app.put('/groups', requireToken(deps.store, operatorOnly), async (c) => {
    const { groups, owners = {} } = parseWith(
      declarationSchema,
      await readJson(c, deps.maxJsonBytes),
      'BAD_REQUEST',
    );
    const logIndex = await deps.declare(groups, owners);
    return c.json({ groups: [...new Set(groups)].sort(), owners, logIndex });
  });
  return app;
}
