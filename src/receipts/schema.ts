import { z } from 'zod';
import { groupName } from '../common/names.js';

/** A receipt: a signed timestamp document an agent accepted, and when it received it (its own clock). */
export const receiptSchema = z.strictObject({
  document: z.record(z.string(), z.unknown()),
  received_at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/, 'received_at: ISO 8601 UTC'),
});

/** `POST /api/v1/receipts`: a batch from one client in one group. */
export const receiptBatchSchema = z.strictObject({
  group: groupName,
  client: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'client: letters, digits, . _ : -, at most 128'),
  receipts: z.array(receiptSchema).min(1).max(1000),
});

export type Receipt = z.infer<typeof receiptSchema>;
export type ReceiptBatch = z.infer<typeof receiptBatchSchema>;
