import { readFileSync } from 'node:fs';

/** Stamped into the fairpatch-agent executable by scripts/build-agent.mjs (an esbuild define). */
declare const FAIRPATCH_AGENT_VERSION: string | undefined;

/**
 * The agent's own version, which its self-updates compare releases of fairpatch/agent with: the
 * stamp of the executable it runs as, or package.json's under `node dist/cli/main.js`.
 */
export function agentVersion(): string {
  if (typeof FAIRPATCH_AGENT_VERSION === 'string') return FAIRPATCH_AGENT_VERSION;
  // dist/cli and src/cli both sit two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Whether this process is the fairpatch-agent executable, the only form that can replace itself:
 * under `node`, process.execPath is node, not the agent. The stamp exists only in the bundle, which
 * scripts/build-agent.mjs turns into the executable (node:sea's isSea() is no help here: a single
 * executable's main script may require only modules that load without the node: scheme).
 */
export function isAgentExecutable(): boolean {
  return typeof FAIRPATCH_AGENT_VERSION === 'string';
}
