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
