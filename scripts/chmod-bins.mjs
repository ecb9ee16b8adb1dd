// Makes package.json's bins executable after a build. tsc writes new files 0644, and npm marks bins
// executable only when it links them at install time, before a fresh clone has a dist/ at all: without
// this, `npx fairpatch …` in a fresh clone fails with "fairpatch: Permission denied".
import { chmodSync, readFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const { bin } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
for (const file of Object.values(bin)) chmodSync(new URL(file, root), 0o755);
