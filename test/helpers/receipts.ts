import type { Receipt } from '../../src/receipts/schema.js';
import type { ManualClock } from './clock.js';

type Fetcher = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** What an agent keeps: every timestamp document it was served, with its own receive time. */
export class ReceiptCollector {
  readonly receipts = new Map<string, Receipt[]>();

  constructor(private readonly clock: ManualClock) {}

  async poll(app: Fetcher, group: string): Promise<{ tick: number; snapshot: number }> {
    const response = await app.request(`/g/${group}/metadata/timestamp.json`);
    if (response.status !== 200) throw new Error(`poll ${group}: ${response.status}`);
    const document = (await response.json()) as { signed: { version: number; meta: { 'snapshot.json': { version: number } } } };
    const list = this.receipts.get(group) ?? [];
    list.push({ document: document as unknown as Record<string, unknown>, received_at: new Date(this.clock.now()).toISOString() });
    this.receipts.set(group, list);
    return { tick: document.signed.version, snapshot: document.signed.meta['snapshot.json'].version };
  }

  async submit(app: Fetcher): Promise<void> {
    for (const [group, receipts] of this.receipts) {
      for (let i = 0; i < receipts.length; i += 500) {
        const response = await app.request('/api/v1/receipts', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ group, client: `agent-${group}`, receipts: receipts.slice(i, i + 500) }),
        });
        if (response.status !== 201) throw new Error(`receipts ${group}: ${response.status} ${await response.text()}`);
      }
    }
  }
}
