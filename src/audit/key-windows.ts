import type { Leaf } from '../log/leaves.js';

/** Ticks a timestamp key was in force: from (inclusive) to (exclusive; Infinity while it still is). */
export type KeyWindows = ReadonlyMap<string, ReadonlyArray<readonly [number, number]>>;

/**
 * When each timestamp key was in force, from the roots the auditor followed and the ticks the log
 * says each root took effect (`change.activated` for role `root`). A key a rotation retired can sign
 * nothing that counts for a tick after its retirement: whoever still holds it (a former employee, the
 * thief the rotation was for) could otherwise sign a second statement for any later tick and have an
 * honest operator convicted of equivocation. A root whose activation the log does not give (a log
 * from before changes were logged) leaves its keys' windows open, as before.
 */
export function timestampKeyWindows(
  roots: ReadonlyArray<{ version: number; keyids: readonly string[] }>,
  leaves: ReadonlyArray<{ leaf: Leaf }>,
): KeyWindows {
  const activatedAt = new Map<number, number>();
  for (const { leaf } of leaves)
    if (leaf.type === 'change.activated' && leaf.role === 'root')
      activatedAt.set(leaf.metadata_version, leaf.tick);
  const windows = new Map<string, Array<readonly [number, number]>>();
  const ordered = [...roots].sort((a, b) => a.version - b.version);
  for (const [i, root] of ordered.entries()) {
    const from = i === 0 ? 0 : (activatedAt.get(root.version) ?? 0);
    const next = ordered[i + 1];
    const to = next ? (activatedAt.get(next.version) ?? Infinity) : Infinity;
    for (const keyid of root.keyids) {
      const list = windows.get(keyid) ?? [];
      list.push([from, to]);
      windows.set(keyid, list);
    }
  }
  return windows;
}

/** Whether any of `keyids` was in force at `tick` (no windows known: every trusted key is). */
export function inForce(
  windows: KeyWindows | undefined,
  keyids: readonly string[],
  tick: number,
): boolean {
  if (!windows) return true;
  return keyids.some((id) => windows.get(id)?.some(([from, to]) => from <= tick && tick < to));
}
