// Regenerates the settings tables of docs/configuration.md from the settings schemas
// (src/cli/configuration-doc.ts names them); run: npm run docs:config.
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTables } from '../dist/cli/configuration-doc.js';

const file = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(file, withSettingsTables(readFileSync(file, 'utf8')));
