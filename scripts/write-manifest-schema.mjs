// Regenerates manifests/schema.json from the validator in src/publish/manifest.ts (run: npm run schema).
import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import { manifestSchema } from '../dist/publish/manifest.js';

const schema = {
  title: 'fairpatch patch manifest',
  ...z.toJSONSchema(manifestSchema, { io: 'input' }),
};
writeFileSync(
  new URL('../manifests/schema.json', import.meta.url),
  JSON.stringify(schema, null, 2) + '\n',
);
