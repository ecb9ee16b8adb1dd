import { describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.js';
import { FairpatchError } from '../../src/errors.js';

// src/db sits below the servers and knows none of their settings: over PostgreSQL the caller passes
// the pool's bounds. Forgetting them is a bug in the caller, said at once, before any connection.
describe('connect', () => {
  it('refuses a PostgreSQL URL without the pool bounds (INTERNAL), connecting to nothing', async () => {
    const refused = await connect({ url: 'postgres://127.0.0.1:1/none' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(FairpatchError);
    expect((refused as FairpatchError).code).toBe('INTERNAL');
    expect((refused as FairpatchError).message).toMatch(/poolSize/);
  });
});
