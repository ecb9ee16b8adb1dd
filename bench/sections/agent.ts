import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, median, rssMiB } from '../lib/proc.js';
import { startProcess } from '../lib/process.js';
import { benchFile } from '../lib/sections.js';

/**
 * Issue 27: the agent as one executable (`npm run build:agent`, a Node single executable
 * application) against today's `node dist/cli/main.js agent`, in one run on this machine, against
 * one live node: what each needs on disk, the time from start to the end of its first poll (its
 * first log line: refresh, TUF verification, selection), and its RSS while idle after that poll.
 * The two forms alternate, each round with a fresh state directory. Results: bench/AGENT.md.
 *   npm run bench -- agent [rounds] [idle seconds]
 */
const ROOT = new URL('../../../', import.meta.url).pathname;
const NODE_CLI = join(ROOT, 'dist/cli/main.js');

interface Sample {
  firstPollMs: number;
  idleRssMiB: number;
}

/** Disk use of a path in bytes (du -sb: apparent sizes, what a package carries). */
const du = (path: string): number =>
  Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

/** Starts an agent, times its first log line, waits idle, reads its RSS, stops it. */
async function sample(command: string[], state: string, idleMs: number): Promise<Sample> {
  const started = performance.now();
  const child = spawn(command[0]!, [...command.slice(1), '--state', state], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  try {
    const firstPollMs = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no first poll:\n${output}`)), 60_000);
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
        clearTimeout(timer);
        resolve(performance.now() - started);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
    });
    await new Promise((r) => setTimeout(r, idleMs));
    return { firstPollMs, idleRssMiB: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGKILL');
  }
}

export async function run(args: readonly string[] = []): Promise<void> {
  const rounds = Number(args[0] ?? 5);
  const idleMs = Number(args[1] ?? 5) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-bench-agent-'));
  // A dev node publishing the repository's example manifests (the agent's product among them).
  cpSync(join(ROOT, 'manifests'), join(dir, 'srv', 'manifests'), { recursive: true });
  const server = await startProcess(
    [CLI, 'serve', '--dev', '--port', '0', '--workers', '1', '--data', 'data', '--keys', 'keys'],
    { cwd: join(dir, 'srv'), env: process.env },
  );
  try {
    const executable = join(dir, 'fairpatch-agent');
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-agent.mjs'), '--out', executable], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const agentArgs = [
      'agent',
      '--server',
      server.url,
      '--group',
      'eu-west',
      '--root',
      join(dir, 'srv', 'keys', '1.root.json'),
      '--product',
      'acme/acme-agent',
      '--platform',
      'linux-x64',
      '--current-version',
      '9.0.0',
    ];
    const forms = {
      executable: [executable, ...agentArgs],
      node: [process.execPath, NODE_CLI, ...agentArgs],
    };
    const samples: Record<keyof typeof forms, Sample[]> = { executable: [], node: [] };
    for (let i = 0; i < rounds; i++)
      for (const form of Object.keys(forms) as Array<keyof typeof forms>)
        samples[form].push(await sample(forms[form], join(dir, `state-${form}-${i}`), idleMs));

    const sizes = {
      executable: statSync(executable).size,
      node: statSync(process.execPath).size,
      dist: du(join(ROOT, 'dist')),
      modules: du(join(ROOT, 'node_modules')),
    };
    const row = (form: keyof typeof forms, what: string, disk: string): string => {
      const s = samples[form];
      const t = s.map((x) => x.firstPollMs);
      const r = s.map((x) => x.idleRssMiB);
      return `| ${what} | ${disk} | ${median(t).toFixed(0)} (${Math.min(...t).toFixed(0)}–${Math.max(...t).toFixed(0)}) | ${median(r).toFixed(1)} (${Math.min(...r).toFixed(1)}–${Math.max(...r).toFixed(1)}) |`;
    };
    const lines = [
      '# The agent as one executable',
      '',
      `- command: \`npm run bench -- agent ${rounds} ${idleMs / 1000}\``,
      `- date: ${new Date().toISOString()}; node ${process.version}; ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}; load average at the end ${loadavg()
        .map((l) => l.toFixed(1))
        .join(', ')}`,
      `- one \`fairpatch serve --dev\` node on 127.0.0.1 with the example releases; each form started ${rounds} times, alternating, each with a fresh state directory (a new agent key, every metadata file fetched and verified); the product is up to date, so the first poll installs nothing`,
      '- first poll: from spawn to the first log line, which the agent writes when its first cycle ends; idle RSS: VmRSS ' +
        `${idleMs / 1000} s after it, the event stream open; median of the rounds (range in brackets)`,
      '',
      '| agent | on disk (MiB) | start to first poll (ms) | RSS idle (MiB) |',
      '|---|---|---|---|',
      row('executable', '`fairpatch-agent agent …` (npm run build:agent)', mib(sizes.executable)),
      row(
        'node',
        '`node dist/cli/main.js agent …`',
        `${mib(sizes.node + sizes.dist + sizes.modules)} (node ${mib(sizes.node)} + dist/ ${mib(sizes.dist)} + node_modules/ ${mib(sizes.modules)}, dev dependencies included)`,
      ),
      '',
    ];
    writeFileSync(benchFile('AGENT.md'), lines.join('\n'));
    console.log(lines.join('\n'));
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
