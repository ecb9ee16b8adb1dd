import { z } from 'zod';
import { FairpatchError } from '../errors.js';

/** A vendor's name: a path prefix (`<vendor>/*`), a role name and a file name, so short and plain. */
export const VENDOR_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * An embargo's id: an advisory or CVE id (CVE-2026-1234, GHSA-xxxx-xxxx-xxxx). It appears in URLs and,
 * after the tick, in the log, so it is short and plain.
 */
export const EMBARGO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A customer group's name (a region, tier or tenant): it appears in URLs, log leaves and reports, so it
 * is short and plain. One definition for the server's routes, the agent and the auditor.
 */
export const GROUP_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const MESSAGE = 'group: lowercase letters, digits, . _ -, at most 64';

export const groupName = z.string().regex(GROUP_PATTERN, MESSAGE);

/** The group named in a request path, or GROUP_INVALID. */
export function parseGroup(value: string): string {
  if (!GROUP_PATTERN.test(value)) throw new FairpatchError('GROUP_INVALID', MESSAGE);
  return value;
}

/**
 * Roll-up buckets: where the nodes count polls they cannot put under a declared group. None matches
 * GROUP_PATTERN (they start with `_`), so no customer group can be named like one.
 */
export const BUCKETS = {
  /** A request without a group in its path (`/metadata/…` rather than `/g/<group>/metadata/…`). */
  ungrouped: '_',
  /** A group name the operator did not declare. */
  undeclared: '_undeclared',
  /** Past the bound on distinct names in one roll-up window, before groups are declared. */
  overflow: '_overflow',
} as const;

/** What a roll-up bucket holds, in words, by its name. */
export const BUCKET_MEANING: Readonly<Record<string, string>> = {
  [BUCKETS.ungrouped]: 'polls without a group in the path',
  [BUCKETS.undeclared]: 'polls under no declared group (none named, or a name not declared)',
  [BUCKETS.overflow]: 'polls past the per-window bound on group names',
};

/** A customer group's name, as opposed to a roll-up bucket's. */
export const isGroupName = (name: string): boolean => GROUP_PATTERN.test(name);
