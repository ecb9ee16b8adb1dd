import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GROUP_PATTERN } from '../common/names.js';
import { print } from './common-options.js';
import { UsageError } from './errors.js';
import { inputFile, writeOutput } from './files.js';
import { command } from './spec.js';
import { parseDuration } from './validate.js';

const AGENT_KEY = /^[0-9a-f]{64}$/;

const keygen = command({
  name: 'keygen',
  summary: "create a group owner's key: NAME.key (mode 0600, stays with the owner) and NAME.pub",
  who: 'group owners',
  positionals: [{ name: 'NAME', description: 'file name without extension, e.g. owner-eu-west' }],
  options: {},
  examples: ['fairpatch owner keygen owner-eu-west'],
  notes: [
    'Give NAME.pub (hex) to the operator (fairpatch groups declare --owners) and to auditors (fairpatch audit --owners).',
  ],
  async run({ positionals }) {
    const { generateOwnerKey } = await import('../keys/owner-key.js');
    const file = resolve(`${positionals[0]!}.key`);
    // A key is never overwritten: agents certified with it would lose their owner.
    if (existsSync(file))
      throw new UsageError(
        `${positionals[0]!}.key already exists; keys are never overwritten, choose another NAME`,
      );
    print(generateOwnerKey(file));
  },
});

const enroll = command({
  name: 'enroll',
  summary: "vouch for agent keys of a group: one certificate per agent, signed by the owner's key",
  who: 'group owners',
  positionals: [
    {
      name: 'AGENT_KEYS',
      description:
        'agent public keys (what fairpatch agent id prints), comma-separated, or @FILE with one per line',
    },
  ],
  options: {
    key: { type: 'string', arg: 'FILE', required: true, description: "the owner's private key" },
    group: {
      type: 'string',
      arg: 'G',
      required: true,
      description: 'the group the agents testify for',
    },
    valid: {
      type: 'string',
      arg: 'DURATION',
      default: '365d',
      description: "how long the agents' testimony is vouched for",
    },
    out: {
      type: 'string',
      arg: 'FILE',
      description:
        'write the certificates here (one agent: the certificate; several: a JSON array) instead of stdout',
    },
  },
  examples: [
    'fairpatch owner enroll --key owner-eu-west.key --group eu-west "$(fairpatch agent id --state .fairpatch-agent)" --out enrollment.json',
    'fairpatch owner enroll --key owner-eu-west.key --group eu-west @fleet-keys.txt --out fleet-certificates.json',
  ],
  notes: ['Each agent installs its own certificate with fairpatch agent enroll FILE.'],
  async run({ values, positionals }) {
    const { certifyAgent, readOwnerKey } = await import('../keys/owner-key.js');
    if (!GROUP_PATTERN.test(values.group))
      throw new UsageError(`--group ${values.group} is not a group name (e.g. eu-west)`);
    const arg = positionals[0]!;
    const agents = (
      arg.startsWith('@') ? readFileSync(inputFile(arg.slice(1), 'AGENT_KEYS'), 'utf8') : arg
    )
      .split(/[\s,]+/)
      .filter(Boolean);
    const bad = agents.find((a) => !AGENT_KEY.test(a));
    if (bad !== undefined || agents.length === 0)
      throw new UsageError(
        `${bad ?? '(none)'} is not an agent key: 64 hex digits, as fairpatch agent id prints`,
      );
    const owner = readOwnerKey(inputFile(values.key, '--key'));
    const now = Date.now();
    const valid = parseDuration(values.valid, '--valid');
    const certificates = [...new Set(agents)].map((agent) =>
      certifyAgent(owner, { group: values.group, agent, from: now, to: now + valid }),
    );
    const text = `${JSON.stringify(certificates.length === 1 ? certificates[0] : certificates, null, 2)}\n`;
    writeOutput(text, values.out);
  },
});

export const owner = command({
  name: 'owner',
  summary: "a group owner's side: its key, and the agents it vouches for",
  who: 'group owners',
  examples: [],
  subcommands: [keygen, enroll],
});
