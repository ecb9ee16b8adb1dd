import type { SignedObservation } from '../common/observation.js';
import { leafJsonBytes } from '../common/canonical.js';

/** Control characters (OLPC leaves them raw, JSON escapes them) and lone surrogates (likewise). */
const NOT_PLAIN =
  // oxlint-disable-next-line no-control-regex -- control characters are what it looks for
  /[\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The bytes of a witness leaf (`leafJsonBytes` of `{type, v, received_at, receipt}`), built around
 * the observation's canonical text the signature check already made (`observation`, from
 * `canonicalText`: not yet UTF-8, so a lone surrogate is still there to see). For text
 * without control characters or lone surrogates, OLPC canonical JSON and the leaves' JSON are the
 * same bytes, and the leaf's keys sort as written here; anything else is encoded the long way.
 */
export function witnessLeafBytes(
  receivedAt: string,
  receipt: SignedObservation,
  observation: string,
): Buffer {
  if (NOT_PLAIN.test(observation))
    return leafJsonBytes({ type: 'witness.receipt', v: 1, received_at: receivedAt, receipt });
  return Buffer.from(
    `{"receipt":{"observation":${observation},"sig":${JSON.stringify(receipt.sig)}},` +
      `"received_at":${JSON.stringify(receivedAt)},"type":"witness.receipt","v":1}`,
    'utf8',
  );
}
