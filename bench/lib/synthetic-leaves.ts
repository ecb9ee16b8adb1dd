import type { LeafOf } from '../../src/log/leaves.js';
import { isoSeconds } from '../../src/tuf/time.js';

/**
 * The one release the synthetic logs of `bench -- log` and `bench -- tiles` schedule, an hour
 * after `epoch`, so that the audit has a release to follow through the million leaves.
 */
export function scheduledReleaseLeaf(epoch: number): LeafOf<'release.scheduled'> {
  return {
    type: 'release.scheduled',
    v: 1,
    vendor: 'acme',
    metadata_version: 2,
    metadata_sha256: '1'.repeat(64),
    release_at: isoSeconds(epoch + 3_600_000),
    activation_tick: 3601,
    targets: {
      'acme/a.sh': {
        sha256: '2'.repeat(64),
        length: 10,
        product: 'acme-agent',
        version: '2.4.1',
        platform: 'linux-x64',
      },
    },
  };
}

/** The activation of that release at its tick. */
export function releaseActivatedLeaf(): LeafOf<'release.activated'> {
  return {
    type: 'release.activated',
    v: 1,
    vendor: 'acme',
    metadata_version: 2,
    tick: 3601,
    snapshot_version: 2,
    snapshot_sha256: '3'.repeat(64),
    timestamp_sha256: '4'.repeat(64),
  };
}
