import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ExternalEvidence } from '../audit/observations.js';
import { type OwnersByGroup, ownersByGroupSchema } from '../common/enrollment.js';
import { UsageError } from './errors.js';

const pinnedSchema = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(100_000),
);
const exportSchema = z.object({
  documents: z.record(z.string(), z.unknown()),
  receipts: z.array(z.unknown()),
  enrollments: z.array(z.unknown()).optional(),
});

function readJsonFile(path: string, flag: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${flag} ${path} is not valid JSON (${(error as Error).message})`);
  }
}

/** `--clients FILE`: the agent keys each group's owner vouches for, `{ "eu-west": ["<hex key>", …] }`. */
export function readPinnedClients(path: string): Record<string, string[]> {
  const parsed = pinnedSchema.safeParse(readJsonFile(path, '--clients'));
  if (!parsed.success)
    throw new UsageError(
      `--clients ${path}: expected {"group": ["64 hex digits", …]} (${parsed.error.issues[0]?.message ?? ''})`,
    );
  return parsed.data;
}

/**
 * `--owners FILE`: per group, the owner keys that vouch for its agents and how many vouched agents
 * convict, `{ "eu-west": { "keys": ["<hex key>"], "quorum": 1 } }` (fairpatch owner keygen writes NAME.pub).
 */
export function readOwners(path: string, flag = '--owners'): OwnersByGroup {
  const parsed = ownersByGroupSchema.safeParse(readJsonFile(path, flag));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `${flag} ${path}: expected {"group": {"keys": ["64 hex digits"], "quorum": 1}} (${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''})`,
    );
  }
  return parsed.data;
}

/** `--receipts FILE`: what `fairpatch agent receipts export` wrote. Each receipt is checked later, one by one. */
export function readEvidenceFiles(paths: string[]): ExternalEvidence[] {
  return paths.map((path) => {
    const parsed = exportSchema.safeParse(readJsonFile(path, '--receipts'));
    if (!parsed.success)
      throw new UsageError(
        `--receipts ${path}: not a receipts export (fairpatch agent receipts export writes one)`,
      );
    return {
      source: `file ${path}`,
      documents: parsed.data.documents,
      receipts: parsed.data.receipts,
      ...(parsed.data.enrollments ? { enrollments: parsed.data.enrollments } : {}),
    };
  });
}
