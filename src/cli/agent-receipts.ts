import { writeFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { inputDir } from './files.js';
import { command } from './spec.js';

const exportReceipts = command({
  name: 'export',
  summary: 'write every receipt the agent kept, with its group, as JSON for an auditor',
  who: 'customer machines',
  options: {
    state: { type: 'string', arg: 'DIR', default: '.fairpatch-agent', description: "the agent's state directory" },
    out: { type: 'string', arg: 'FILE', description: 'write here instead of stdout' },
    group: { type: 'string', arg: 'G', description: 'the group (default: the one the agent recorded in its state directory)' },
  },
  examples: ['fairpatch agent receipts export --state /var/lib/fairpatch --out receipts.json'],
  async run({ values }) {
    const [{ ReceiptStore }, { readGroupFile }] = await Promise.all([import('../agent/receipt-store.js'), import('../agent/group-file.js')]);
    const state = inputDir(values.state, '--state', 'pass the --state the agent ran with');
    const group = values.group ?? readGroupFile(state);
    if (!group) throw new UsageError(`${values.state} records no group (an agent older than this version kept it); pass --group`);
    const text = JSON.stringify({ group, receipts: new ReceiptStore(state).all() }, null, 2) + '\n';
    if (values.out) writeFileSync(values.out, text);
    else process.stdout.write(text);
  },
});

export const receipts = command({
  name: 'receipts',
  summary: "the agent's receipts: every signed timestamp it accepted, with its arrival time",
  who: 'customer machines',
  examples: [],
  subcommands: [exportReceipts],
});
