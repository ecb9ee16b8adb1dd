import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { Agent } from '../agent/agent.js';
import { ReceiptStore } from '../agent/receipt-store.js';
import { FairpatchError } from '../errors.js';
import { systemClock } from '../common/clock.js';
import { groupName } from '../common/groups.js';
import { parseJson } from '../tuf/canonical.js';
import { parseWith, vendorName } from '../tuf/schema.js';
import { args, parseDuration } from './args.js';

const USAGE = `fairpatch agent --server URL --group G --root FILE --state DIR --product VENDOR/PRODUCT --platform X --current-version V
                [--channel stable] [--interval 60s] [--install CMD] [--once] [--config FILE]
  --product acme/acme-agent   the vendor trusted for the product, and the product (or --vendor acme --product acme-agent)
fairpatch agent receipts export [--state DIR] [--out FILE]`;

const optionsSchema = z.strictObject({
  server: z.url(),
  group: groupName,
  root: z.string().min(1),
  state: z.string().min(1),
  product: z.string().min(1),
  platform: z.string().min(1),
  'current-version': z.string().min(1),
  channel: z.string().default('stable'),
  interval: z.string().default('60s'),
  install: z.string().optional(),
  vendor: z.string().optional(),
  once: z.boolean().default(false),
});

export async function agentCommand(argv: string[]): Promise<void> {
  if (argv[0] === 'receipts') return receiptsCommand(argv.slice(1));
  const { values } = args(argv, {
    config: { type: 'string' },
    server: { type: 'string' },
    group: { type: 'string' },
    root: { type: 'string' },
    state: { type: 'string' },
    product: { type: 'string' },
    platform: { type: 'string' },
    'current-version': { type: 'string' },
    channel: { type: 'string' },
    interval: { type: 'string' },
    install: { type: 'string' },
    vendor: { type: 'string' },
    once: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  if (values.help) return void console.log(USAGE);
  const { config, help: _help, ...flags } = values;
  const fromFile = config ? (parseJson(readFileSync(config), 'JSON_INVALID') as Record<string, unknown>) : {};
  const o = parseWith(optionsSchema, { ...fromFile, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) }, 'BAD_REQUEST');
  const agent = new Agent(
    {
      server: o.server,
      group: o.group,
      root: resolve(o.root),
      stateDir: resolve(o.state),
      ...trustedProduct(o.product, o.vendor),
      platform: o.platform,
      currentVersion: o['current-version'],
      channel: o.channel,
      intervalMs: parseDuration(o.interval),
      ...(o.install ? { install: o.install } : {}),
    },
    {
      clock: systemClock,
      fetcher: {
        // A progress line on a terminal; quiet logs otherwise.
        ...(process.stderr.isTTY ? { onProgress: (url: string, got: number, total: number) => process.stderr.write(`\r${url.split('/').pop()?.slice(65)} ${Math.round((100 * got) / Math.max(1, total))}%`) } : {}),
      },
    },
  );
  if (o.once) {
    const result = await agent.cycle();
    process.exitCode = result.outcome === 'refused' || result.outcome === 'install-failed' ? 1 : 0;
    return;
  }
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  await agent.run(stop.signal);
}

/**
 * Which vendor the agent trusts for its product. Required: product names are only unique per vendor,
 * and searching every delegation would let any vendor offer a "patch" for another vendor's product.
 */
function trustedProduct(product: string, vendor: string | undefined): { vendor: string; product: string } {
  const slash = product.indexOf('/');
  const pair = slash >= 0 ? { vendor: product.slice(0, slash), product: product.slice(slash + 1) } : { vendor: vendor ?? '', product };
  if (vendor && vendor !== pair.vendor) throw new FairpatchError('BAD_REQUEST', `--vendor ${vendor} and --product ${product} name different vendors`);
  if (!pair.vendor) throw new FairpatchError('BAD_REQUEST', '--product: name the vendor you trust for it, as --product VENDOR/PRODUCT (or --vendor VENDOR)');
  parseWith(vendorName, pair.vendor, 'BAD_REQUEST');
  return pair;
}

async function receiptsCommand(argv: string[]): Promise<void> {
  const { values, positionals } = args(argv, { state: { type: 'string' }, out: { type: 'string' }, group: { type: 'string' } });
  if (positionals[0] !== 'export') throw new FairpatchError('BAD_REQUEST', 'usage: fairpatch agent receipts export [--state DIR] [--out FILE] [--group G]');
  const receipts = new ReceiptStore(resolve(values.state ?? '.fairpatch-agent')).all();
  const text = JSON.stringify({ group: values.group ?? null, receipts }, null, 2) + '\n';
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
}
