import { EMBARGO_PATTERN, VENDOR_PATTERN } from '../common/names.js';
import { OPERATOR_TOKEN, SERVER, TOKEN, print } from './common-options.js';
import { UsageError } from './errors.js';
import { command } from './spec.js';
import { serverUrl } from './validate.js';

// Coordinated releases (src/release/embargo.ts): the coordinator holds the operator token; members
// read the state with their own vendor token and stage with `fairpatch publish --embargo ID`.

const ID = { name: 'ID', description: 'the advisory or CVE id, e.g. CVE-2026-4242' };
const RELEASE_AT = {
  type: 'string',
  arg: 'TIME',
  required: true,
  description: 'when every member goes live: YYYY-MM-DDTHH:MM:SSZ or +<n>s|m|h|d',
} as const;

function embargoId(value: string): string {
  if (!EMBARGO_PATTERN.test(value))
    throw new UsageError(
      `${value} is not an advisory id (letters, digits, '.', '_' and '-', e.g. CVE-2026-4242)`,
    );
  return value;
}

async function client(server: string, token: string) {
  const { PublisherClient } = await import('../publish/client.js');
  return new PublisherClient(serverUrl(server), token);
}

async function releaseAt(value: string): Promise<string> {
  const [{ resolveReleaseAt }, { isoSeconds }] = await Promise.all([
    import('../publish/manifest.js'),
    import('../tuf/time.js'),
  ]);
  return isoSeconds(resolveReleaseAt(value, Date.now()));
}

const create = command({
  name: 'create',
  summary: 'open an embargo: its members, and the one time all of them go live',
  who: 'operator',
  positionals: [ID],
  options: {
    'release-at': RELEASE_AT,
    members: {
      type: 'string',
      arg: 'VENDORS',
      required: true,
      multiple: true,
      description: 'comma-separated member vendors, e.g. acme,quill,globex',
    },
    server: SERVER,
    token: OPERATOR_TOKEN,
  },
  examples: [
    'fairpatch embargo create CVE-2026-4242 --release-at +2h --members acme,quill,globex --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  notes: [
    'Before its tick the log holds only a hash of the id and the members; anyone but a member is told it does not exist.',
  ],
  async run({ values, positionals }) {
    const members = values.members.split(',').filter(Boolean);
    const bad = members.find((m) => !VENDOR_PATTERN.test(m));
    if (bad !== undefined) throw new UsageError(`${bad} is not a vendor name`);
    print(
      await (
        await client(values.server, values.token)
      ).postJson('/embargoes', {
        id: embargoId(positionals[0]!),
        release_at: await releaseAt(values['release-at']),
        members,
      }),
    );
  },
});

const move = command({
  name: 'move',
  summary: "move an embargo to a later time; every ready member's fix moves with it",
  who: 'operator',
  positionals: [ID],
  options: { 'release-at': RELEASE_AT, server: SERVER, token: OPERATOR_TOKEN },
  examples: [
    'fairpatch embargo move CVE-2026-4242 --release-at +1d --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  notes: ['At least one lead time before the current time; once a member is ready, only later.'],
  async run({ values, positionals }) {
    print(
      await (
        await client(values.server, values.token)
      ).postJson(`/embargoes/${embargoId(positionals[0]!)}/move`, {
        release_at: await releaseAt(values['release-at']),
      }),
    );
  },
});

const decide = command({
  name: 'decide',
  summary:
    'release without members that are not ready (their fixes are then scheduled on their own)',
  who: 'operator',
  positionals: [ID],
  options: {
    'leave-out': {
      type: 'string',
      arg: 'VENDORS',
      required: true,
      multiple: true,
      description: 'comma-separated members to leave out',
    },
    server: SERVER,
    token: OPERATOR_TOKEN,
  },
  examples: [
    'fairpatch embargo decide CVE-2026-4242 --leave-out quill --server http://127.0.0.1:8080 --token "$(cat data/operator.token)"',
  ],
  notes: [
    'A left-out member still may not ship before the embargo time. Each decision is a log leaf, revealed at the tick.',
  ],
  async run({ values, positionals }) {
    print(
      await (
        await client(values.server, values.token)
      ).postJson(`/embargoes/${embargoId(positionals[0]!)}/decide`, {
        leave_out: values['leave-out'].split(',').filter(Boolean),
      }),
    );
  },
});

const show = command({
  name: 'show',
  summary: "an embargo's time and which members are ready",
  who: 'vendor, operator',
  positionals: [ID],
  options: {
    server: SERVER,
    token: { ...TOKEN, description: 'a member vendor token, or the operator token' },
  },
  examples: [
    'fairpatch embargo show CVE-2026-4242 --server http://127.0.0.1:8080 --token "$FAIRPATCH_TOKEN"',
  ],
  async run({ values, positionals }) {
    print(
      await (
        await client(values.server, values.token)
      ).request('GET', `/embargoes/${embargoId(positionals[0]!)}`),
    );
  },
});

export const embargo = command({
  name: 'embargo',
  summary: 'coordinated releases: several vendors ship one advisory at one tick',
  who: 'operator, vendor',
  examples: [],
  subcommands: [create, move, decide, show],
});
