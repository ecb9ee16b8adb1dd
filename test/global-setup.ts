import { execFileSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { startCluster } from './helpers/postgres-cluster.js';

/**
 * Builds dist/ once (tests that spawn the real CLI run the code under test), and starts the run's
 * throwaway PostgreSQL cluster unless DATABASE_URL names a server to use instead.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    stdio: 'inherit',
  });
  // As `npm run build` does: tests run the bins as a user would, through npx.
  execFileSync(process.execPath, ['scripts/chmod-bins.mjs'], { stdio: 'inherit' });
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL);
    return () => {};
  }
  const cluster = await startCluster();
  project.provide('postgresUrl', cluster.url);
  return () => cluster.stop();
}
