// Regenerates the settings table of docs/configuration.md from src/server/config.ts (run: npm run docs:config).
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../dist/server/config-doc.js';

const file = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(file, withSettingsTable(readFileSync(file, 'utf8')));
