import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KEYS, print } from './common-options.js';
import { command } from './spec.js';
import { positiveInt } from './validate.js';

export const keygen = command({
  name: 'keygen',
  summary: 'create repository keys, or a vendor key with --vendor NAME',
  who: 'operator, vendor',
  options: {
    keys: KEYS,
    vendor: {
      type: 'string',
      arg: 'NAME',
      description: "create only this vendor's key pair (NAME.key, NAME.pub)",
    },
    witness: {
      type: 'string',
      arg: 'NAME',
      description:
        'create only a witness key (NAME.key, mode 0600, and NAME.vkey, its C2SP verifier key) in the current directory',
    },
    'root-keys': { type: 'string', arg: 'N', default: '1', description: 'number of root keys' },
    'root-threshold': {
      type: 'string',
      arg: 'K',
      default: '1',
      description: 'root keys needed to sign a new root',
    },
  },
  examples: [
    'fairpatch keygen --keys keys --root-keys 3 --root-threshold 2',
    'fairpatch keygen --keys keys --vendor acme',
    'fairpatch keygen --witness w1',
  ],
  notes: ['Private keys are written with mode 0600 and never overwritten.'],
  async run({ values }) {
    const { generateRepositoryKeys, generateVendorKey } = await import('../keys/keygen.js');
    if (values.witness) {
      const { generateWitnessKey } = await import('../witness/key.js');
      const made = generateWitnessKey(resolve(`${values.witness}.key`), values.witness);
      return print({
        witness: values.witness,
        private: made.key,
        verifier_key_file: made.vkey,
        verifier_key: made.verifierKey,
      });
    }
    const dir = resolve(values.keys);
    if (values.vendor) {
      const pair = generateVendorKey(dir, values.vendor);
      return print({
        vendor: values.vendor,
        keyid: pair.keyid,
        private: join(dir, `${values.vendor}.key`),
        public: join(dir, `${values.vendor}.pub`),
      });
    }
    const rootKeys = positiveInt(values['root-keys'], '--root-keys') ?? 1;
    const rootThreshold = positiveInt(values['root-threshold'], '--root-threshold') ?? 1;
    const { rootPath } = generateRepositoryKeys({ dir, now: Date.now(), rootKeys, rootThreshold });
    print({
      keys: dir,
      root: rootPath,
      root_threshold: `${rootThreshold}-of-${rootKeys}`,
      log_verifier_key: readFileSync(join(dir, 'log.vkey'), 'utf8').trim(),
    });
  },
});
