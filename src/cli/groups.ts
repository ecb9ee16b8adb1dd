import { GROUP_PATTERN } from '../common/names.js';
import { OPERATOR_TOKEN, SERVER, print } from './common-options.js';
import { UsageError } from './errors.js';
import { inputFile } from './files.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';

const declare = command({
  name: 'declare',
  summary:
    'declare, in the log, every customer group this repository serves (the audit must cover each)',
  who: 'operator',
  positionals: [
    { name: 'GROUPS', description: 'comma-separated group names, e.g. eu-west,us-east,ap-south' },
  ],
  options: {
    server: SERVER,
    token: OPERATOR_TOKEN,
    owners: {
      type: 'string',
      arg: 'FILE',
      description:
        'per group, the owner keys that vouch for its agents, {"eu-west": {"keys": ["hex key"], "quorum": 1}}',
    },
  },
  examples: [
    'fairpatch groups declare eu-west,us-east,ap-south --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
    'fairpatch groups declare eu-west,us-east --owners owners.json --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  notes: [
    'Only receipts of agents that a declared owner key certified (fairpatch owner enroll) count as evidence for a group; auditors may pin their own (fairpatch audit --owners).',
    'Polls under any other group name are then counted under one bucket, _undeclared. Declaring again replaces the list; the log keeps every declaration.',
  ],
  async run({ values, positionals }) {
    const groups = positionals[0]!.split(',').filter(Boolean);
    const bad = groups.find((g) => !GROUP_PATTERN.test(g));
    if (bad !== undefined)
      throw new UsageError(
        `${bad} is not a group name (lowercase letters, digits, '.', '_' and '-', e.g. eu-west)`,
      );
    const { PublisherClient } = await import('../publish/client.js');
    const { readOwners } = await import('./audit-inputs.js');
    const owners = values.owners ? readOwners(inputFile(values.owners, '--owners')) : undefined;
    const client = new PublisherClient(serverUrl(values.server), values.token);
    print(
      await client.request(
        'PUT',
        '/groups',
        JSON.stringify({ groups, ...(owners ? { owners } : {}) }),
        {
          'content-type': 'application/json',
        },
      ),
    );
  },
});

export const groups = command({
  name: 'groups',
  summary: 'the customer groups the repository serves',
  who: 'operator',
  examples: [],
  subcommands: [declare],
});
