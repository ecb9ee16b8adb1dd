import { describe, expect, it } from 'vitest';
import { agent } from '../../src/cli/agent.js';
import { runCli } from '../../src/cli/dispatch.js';

/** What `fairpatch-agent ARGS` prints, run in this process as the executable's entry runs it. */
async function asAgentExecutable(
  argv: string[],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([agent], argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    program: 'fairpatch-agent',
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the agent executable names itself', () => {
  it('in its overview, its help and its usage errors, never as the npm package', async () => {
    const overview = await asAgentExecutable(['--help']);
    expect(overview.out).toMatch(/^Usage: fairpatch-agent <command> \[options\]/);
    expect(overview.out).toMatch(/^ {2}fairpatch-agent agent --help$/m);
    expect(overview.out).toMatch(
      /^Run fairpatch-agent CMD --help \(or fairpatch-agent help CMD\)/m,
    );

    const help = await asAgentExecutable(['agent', '--help']);
    expect(help.out).toMatch(/^Usage: fairpatch-agent agent /);
    expect(help.out).toMatch(/^ {2}fairpatch-agent agent --config agent\.json$/m);
    expect(help.out).not.toMatch(/^ {2}fairpatch agent/m);

    const wrong = await asAgentExecutable(['agent', '--no-such-option']);
    expect(wrong.code).toBe(64);
    expect(wrong.err).toMatch(/^fairpatch-agent agent: .*\(see fairpatch-agent agent --help\)$/);
  });
});
