import { UsageError } from './errors.js';
import { inputDir, inputFile, writeOutput } from './files.js';
import { type OptionSpec, command } from './spec.js';

/** `--state`: the agent's state directory, as the agent itself defaults it. */
const agentState = (description: string) =>
  ({
    type: 'string',
    arg: 'DIR',
    default: '.fairpatch-agent',
    description,
  }) as const satisfies OptionSpec;

const exportReceipts = command({
  name: 'export',
  summary: "write every receipt the agent kept (signed by the agent's key) as JSON for an auditor",
  who: 'customer machines',
  options: {
    state: agentState("the agent's state directory"),
    out: { type: 'string', arg: 'FILE', description: 'write here instead of stdout' },
    group: {
      type: 'string',
      arg: 'G',
      description: 'the group (default: the one the agent recorded in its state directory)',
    },
  },
  examples: ['fairpatch agent receipts export --state /var/lib/fairpatch --out receipts.json'],
  async run({ values }) {
    const [
      { ReceiptStore, receiptBatch },
      { readGroupFile },
      { loadIdentity },
      { readEnrollment },
    ] = await Promise.all([
      import('../agent/receipt-store.js'),
      import('../agent/group-file.js'),
      import('../agent/identity.js'),
      import('../agent/enrollment-file.js'),
    ]);
    const state = inputDir(values.state, '--state', 'pass the --state the agent ran with');
    const group = values.group ?? readGroupFile(state);
    if (!group)
      throw new UsageError(
        `${values.state} records no group (an agent older than this version kept it); pass --group`,
      );
    // The same shape as a receipts upload, with the agent's key and group: `fairpatch audit --receipts` reads it.
    const text = `${JSON.stringify({ agent: loadIdentity(state).publicKey, group, ...receiptBatch(new ReceiptStore(state).all(), readEnrollment(state)) }, null, 2)}\n`;
    writeOutput(text, values.out);
  },
});

export const id = command({
  name: 'id',
  summary: "print this agent's public key: what a group's owner pins (fairpatch audit --clients)",
  who: 'customer machines',
  options: {
    state: agentState(
      "the agent's state directory (the key is created there on first use, mode 0600)",
    ),
  },
  examples: ['fairpatch agent id --state /var/lib/fairpatch'],
  async run({ values }) {
    const [{ loadIdentity }, { privateDir }] = await Promise.all([
      import('../agent/identity.js'),
      import('../common/files.js'),
    ]);
    console.log(loadIdentity(privateDir(values.state)).publicKey);
  },
});

export const enroll = command({
  name: 'enroll',
  summary: "install the certificate by which this agent's group owner vouches for its key",
  who: 'customer machines',
  positionals: [{ name: 'FILE', description: 'the certificate fairpatch owner enroll wrote' }],
  options: {
    state: agentState("the agent's state directory"),
    group: {
      type: 'string',
      arg: 'G',
      description: 'the group (default: the one the agent recorded in its state directory)',
    },
  },
  examples: ['fairpatch agent enroll enrollment.json --state /var/lib/fairpatch'],
  notes: [
    'The certificate goes out with every receipt batch, to the server and to witnesses: auditors count the testimony of vouched agents only.',
  ],
  async run({ values, positionals }) {
    const [
      { installEnrollment, EnrollmentError },
      { readGroupFile },
      { loadIdentity },
      { readFileSync },
    ] = await Promise.all([
      import('../agent/enrollment-file.js'),
      import('../agent/group-file.js'),
      import('../agent/identity.js'),
      import('node:fs'),
    ]);
    const state = inputDir(values.state, '--state', 'run the agent once, or fairpatch agent id');
    const group = values.group ?? readGroupFile(state);
    if (!group) throw new UsageError(`${values.state} records no group yet; pass --group`);
    const text = readFileSync(inputFile(positionals[0]!, 'FILE'), 'utf8');
    try {
      const cert = installEnrollment(state, text, {
        publicKey: loadIdentity(state).publicKey,
        group,
      });
      console.log(
        `enrolled: agent ${cert.enrollment.agent.slice(0, 16)}… of group ${group}, vouched by owner ${cert.enrollment.owner.slice(0, 16)}… until ${cert.enrollment.expires_at}`,
      );
    } catch (error) {
      if (error instanceof EnrollmentError)
        throw new UsageError(`${positionals[0]!}: ${error.message}`);
      throw error;
    }
  },
});

export const receipts = command({
  name: 'receipts',
  summary:
    "the agent's receipts: what it was served, when and through which path, signed by its key",
  who: 'customer machines',
  examples: [],
  subcommands: [exportReceipts],
});
