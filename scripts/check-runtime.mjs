// The Node.js fairpatch runs on (README, "Supported runtime"). Plain JavaScript that any old node can
// parse: `npm install` and `npm ci` run it first (preinstall), so an older node stops there with one
// line instead of installing better-sqlite3 13 and tuf-js 6, which need a newer one (on Node 20
// better-sqlite3 13 crashes). `npm run check:runtime` and test/runtime/runtime.test.ts also hold the
// running node to the newest Node.js 24 security release the project knows of.
import { pathToFileURL } from 'node:url';

/** Node.js 24 LTS: security fixes until 2028-04-30. */
export const SUPPORTED_MAJOR = 24;

/**
 * The newest Node.js 24 security release we know of (24.18.1, 2026-07-29: eleven CVEs, three High).
 * Raise it when the Node.js security team announces one: the nodejs-sec mailing list and the feed of
 * https://nodejs.org/en/blog/vulnerability/ (README, "Supported runtime").
 */
export const MINIMUM_SECURE = '24.18.1';

const parts = (version) => version.split('.').map((n) => Number.parseInt(n, 10) || 0);

function older(version, than) {
  const [a, b] = [parts(version), parts(than)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/**
 * What is wrong with running fairpatch on Node.js `version` ("24.21.0"), in one line, or undefined.
 * `security`: also refuse a 24.x older than MINIMUM_SECURE (newer majors are not pinned here).
 */
export function runtimeProblem(version, { security = false } = {}) {
  const [major] = parts(version);
  if (major < SUPPORTED_MAJOR)
    return `fairpatch needs Node.js ${SUPPORTED_MAJOR} or newer; this is ${version} (README, "Supported runtime")`;
  if (security && major === SUPPORTED_MAJOR && older(version, MINIMUM_SECURE))
    return `Node.js ${version} lacks the security fixes of ${MINIMUM_SECURE}: upgrade Node.js (README, "Supported runtime")`;
  return undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const problem = runtimeProblem(process.versions.node, {
    security: process.argv.includes('--security'),
  });
  if (problem) {
    console.error(problem);
    process.exitCode = 1;
  } else if (process.argv.includes('--security'))
    console.log(`Node.js ${process.versions.node}: supported, with the fixes of ${MINIMUM_SECURE}`);
}
