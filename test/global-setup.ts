import { execFileSync } from 'node:child_process';

/** Builds dist/ once so tests that spawn the real CLI run the code under test. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
