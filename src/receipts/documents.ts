import type { Db } from '../db/schema.js';

/** The timestamp documents receipts name, kept beside the log (`receipt_documents`), the same at node and witness. */
export interface StoredDocument {
  digest: string;
  /** The tick the document was signed for; 0 where the intake did not keep it. */
  tick: number;
  /** Its canonical JSON text. */
  document: string;
}

/** Stores documents, in chunks (a statement's parameters are bounded); one already stored stays as it is. */
export async function storeDocuments(db: Db, documents: readonly StoredDocument[]): Promise<void> {
  for (let i = 0; i < documents.length; i += 200) {
    await db
      .insertInto('receipt_documents')
      .values(documents.slice(i, i + 200))
      .onConflict((oc) => oc.column('digest').doNothing())
      .execute();
  }
}

/** Which of `digests` are stored already. */
export async function knownDocuments(db: Db, digests: readonly string[]): Promise<string[]> {
  const known: string[] = [];
  for (let i = 0; i < digests.length; i += 500) {
    const rows = await db
      .selectFrom('receipt_documents')
      .select('digest')
      .where('digest', 'in', digests.slice(i, i + 500))
      .execute();
    for (const r of rows) known.push(r.digest);
  }
  return known;
}
