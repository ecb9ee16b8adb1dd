import { resolve } from 'node:path';
import { KEYS, print } from './common-options.js';
import { UsageError } from './errors.js';
import { command } from './spec.js';

const rotate = command({
  name: 'rotate',
  summary:
    "rotate the transparency log's key: begin announces the new key, promote makes it the signer",
  who: 'operator',
  positionals: [{ name: 'STEP', description: 'begin or promote' }],
  options: { keys: KEYS },
  examples: ['fairpatch log rotate begin --keys keys', 'fairpatch log rotate promote --keys keys'],
  notes: [
    'Copy the keys to every node and restart every node after each step; auditors, witnesses and agents learn the new key from the log (docs/production.md, Key operations).',
  ],
  async run({ values, positionals }) {
    const step = positionals[0];
    if (step !== 'begin' && step !== 'promote')
      throw new UsageError(`STEP must be begin or promote, not '${step}'`);
    const { rotateLogKey } = await import('../keys/keygen.js');
    print(rotateLogKey(resolve(values.keys), step));
  },
});

export const log = command({
  name: 'log',
  summary: "rotate the transparency log's key (begin, then promote)",
  who: 'operator',
  examples: [],
  subcommands: [rotate],
});
