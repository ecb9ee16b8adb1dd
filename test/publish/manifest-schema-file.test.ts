import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { manifestSchema } from '../../src/publish/manifest.js';

// manifests/schema.json is what vendors' editors validate against; it is generated from the
// validator (`npm run schema`), and a validator changed without it regenerated drifted once
// (the auto-pause bound moved from 1,000,000 to 10,000, the file kept the old one).
describe('manifests/schema.json', () => {
  it('is what npm run schema writes from the validator today', () => {
    const file = JSON.parse(
      readFileSync(new URL('../../manifests/schema.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    const { title, ...generated } = file;
    expect(title).toBe('fairpatch patch manifest');
    expect(generated).toEqual(
      JSON.parse(JSON.stringify(z.toJSONSchema(manifestSchema, { io: 'input' }))),
    );
  });
});
