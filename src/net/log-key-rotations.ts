import { MAX_KEY_ROTATIONS_BYTES } from '../log/log-keys.js';
import { parseJson } from '../common/canonical.js';
import { textAtMost } from './bounded.js';
import { reach } from './unreachable.js';
import { expectOk } from './errors.js';

/** Fetches a log's `/log/key-rotations` (read no further than its bound), for a LogKeyRing. */
export function httpKeyRotations(server: string, timeoutMs = 10_000): () => Promise<unknown> {
  const url = `${server.replace(/\/+$/, '')}/log/key-rotations`;
  return async () => {
    const response = await expectOk(await reach(url, { timeoutMs }), url);
    return parseJson(await textAtMost(response, MAX_KEY_ROTATIONS_BYTES), 'JSON_INVALID');
  };
}
