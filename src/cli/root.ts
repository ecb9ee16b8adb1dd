import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { OnlineRole } from '../keys/keygen.js';
import { KEYS, print } from './common-options.js';
import { UsageError } from './errors.js';
import { didYouMean } from './nearest.js';
import { command } from './spec.js';
import { positiveInt, serverUrl } from './validate.js';

const rotate = command({
  name: 'rotate',
  summary:
    'write N+1.root.json signed by the old and the new root threshold, optionally new online keys',
  who: 'root key holders',
  options: {
    keys: KEYS,
    'root-keys': {
      type: 'string',
      arg: 'N',
      description: 'new number of root keys (default: unchanged)',
    },
    'root-threshold': {
      type: 'string',
      arg: 'K',
      description: 'new root threshold (default: unchanged)',
    },
    rotate: {
      type: 'string',
      arg: 'ROLES',
      description: 'online roles that get new keys, comma-separated: timestamp,snapshot,targets',
    },
    server: { type: 'string', arg: 'URL', description: 'also upload the new root to this node' },
    token: {
      type: 'string',
      arg: 'TOKEN',
      env: 'FAIRPATCH_TOKEN',
      description: 'the operator token (with --server)',
    },
  },
  examples: [
    'fairpatch root rotate --keys keys --root-keys 3 --root-threshold 2 --rotate timestamp --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  async run({ values }) {
    const [{ ONLINE_ROLES, rotateRoot }, { PublisherClient }] = await Promise.all([
      import('../keys/keygen.js'),
      import('../publish/client.js'),
    ]);
    const rotate = (values.rotate?.split(',').filter(Boolean) ?? []) as OnlineRole[];
    for (const role of rotate)
      if (!ONLINE_ROLES.includes(role))
        throw new UsageError(
          `--rotate: ${role} is not one of ${ONLINE_ROLES.join(', ')}${didYouMean(role, ONLINE_ROLES)}`,
        );
    const rootKeys = positiveInt(values['root-keys'], '--root-keys');
    const rootThreshold = positiveInt(values['root-threshold'], '--root-threshold');
    const server = values.server === undefined ? undefined : serverUrl(values.server);
    if (server && !values.token)
      throw new UsageError('--token is required with --server (or set FAIRPATCH_TOKEN)');
    const result = rotateRoot({
      dir: resolve(values.keys),
      now: Date.now(),
      rotate,
      ...(rootKeys ? { rootKeys } : {}),
      ...(rootThreshold ? { rootThreshold } : {}),
    });
    if (!server) return print(result);
    // The server says from when the new root is in effect (one lead time ahead at least).
    const served = (await new PublisherClient(server, values.token!).postJson(
      '/root',
      JSON.parse(readFileSync(result.path, 'utf8')),
    )) as { activatesAt?: string };
    print({ ...result, ...(served.activatesAt ? { activatesAt: served.activatesAt } : {}) });
  },
});

export const root = command({
  name: 'root',
  summary: 'rotate root metadata and, with it, online keys',
  who: 'root key holders',
  examples: [],
  subcommands: [rotate],
});
