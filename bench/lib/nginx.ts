import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nginx binary from Debian's package; a missing one is a failure with the fix, never a skip. */
export function nginxBinary(): string {
  for (const path of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'])
    if (existsSync(path)) return path;
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  throw new Error(
    'nginx not found: run scripts/install-system-packages.sh (it installs nginx from Debian)',
  );
}

import { freePort } from './free-port.js';

export { freePort };

/** What the cache log records per request: when, what, and whether the origin was asked. */
export const LOG_FORMAT = "'$msec $status $upstream_cache_status $upstream_addr $request_uri'";

export interface AccessEntry {
  atMs: number;
  status: number;
  /** HIT, MISS, EXPIRED, REVALIDATED… or '-' when the location has no cache. */
  cache: string;
  /** True when this request went to an origin node. */
  origin: boolean;
  path: string;
}

export function parseAccessLog(text: string): AccessEntry[] {
  const entries: AccessEntry[] = [];
  for (const line of text.split('\n')) {
    const [msec, status, cache, upstream, path] = line.split(' ');
    if (!msec || !path) continue;
    entries.push({
      atMs: Math.round(Number(msec) * 1000),
      status: Number(status),
      cache: cache ?? '-',
      origin: upstream !== '-',
      path,
    });
  }
  return entries;
}

export interface CacheConfigOptions {
  /** Origin nodes, `127.0.0.1:PORT`. */
  upstreams: string[];
  /**
   * The classic mistake: cache for a fixed time whatever the origin says. The timestamp then
   * outlives its tick and the caches withhold releases (what the agents must catch).
   */
  misconfigured?: boolean;
}

/** docs/production.md, found from this file whether it runs from bench/lib or from a compiled copy. */
function productionDoc(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    const file = new URL('docs/production.md', dir);
    if (existsSync(file)) return readFileSync(file, 'utf8');
  }
  throw new Error('docs/production.md not found');
}

/** The nginx configuration docs/production.md recommends, exactly as written there. */
export function productionSnippet(): string {
  const block = /```nginx\n([\s\S]*?)```/.exec(productionDoc())?.[1];
  if (!block) throw new Error('docs/production.md has no nginx block');
  return block;
}

/**
 * The cache of docs/production.md with this machine's addresses and paths: its upstream servers
 * become `upstreams`, it listens on 127.0.0.1:{{PORT}} and caches under {{DIR}}. Tests and the
 * benchmark run the documented configuration, so it cannot drift from what they measured.
 */
export function cacheServer(options: CacheConfigOptions): string {
  let conf = productionSnippet();
  const servers = options.upstreams.map((u) => `server ${u} max_fails=0;`).join('\n    ');
  conf = conf.replace(
    /(upstream fairpatch \{\n)((?:\s*server [^\n]*\n)+)/,
    (_, head: string) => `${head}    ${servers}\n`,
  );
  conf = conf.replace(/listen 80;/, 'listen 127.0.0.1:{{PORT}} reuseport backlog=4096;');
  conf = conf.replace('/var/cache/nginx/fairpatch', '{{DIR}}/cache');
  if (options.misconfigured)
    conf = conf.replace(
      'proxy_cache_revalidate on;',
      'proxy_cache_revalidate on;\n        proxy_ignore_headers Cache-Control Expires X-Accel-Expires;\n        proxy_cache_valid 200 60s;',
    );
  for (const part of [
    '{{PORT}}',
    '{{DIR}}/cache',
    ...options.upstreams,
    ...(options.misconfigured ? ['proxy_cache_valid'] : []),
  ])
    if (!conf.includes(part))
      throw new Error(`the nginx block of docs/production.md no longer fits the tests (${part})`);
  return conf;
}

export interface StartedNginx {
  url: string;
  dir: string;
  process: ChildProcess;
  /** Every request so far (the log is written unbuffered). */
  accessLog(): AccessEntry[];
  /** Stops nginx and removes its directory: read the access log before. */
  stop(): Promise<void>;
}

/**
 * Starts nginx on a free 127.0.0.1 port with a generated configuration, everything (pid, logs,
 * temp files, cache) inside a fresh temporary directory, in the foreground so that it dies with
 * `stop()`. `http` is the body of the http block; `{{PORT}}` is replaced by the port and `{{DIR}}`
 * by the directory.
 */
export async function startNginx(
  http: string,
  options: { workers?: number; timeoutMs?: number } = {},
): Promise<StartedNginx> {
  const bin = nginxBinary();
  const dir = mkdtempSync(join(tmpdir(), 'fairpatch-nginx-'));
  for (const sub of ['cache', 'tmp']) mkdirSync(join(dir, sub));
  const port = await freePort();
  // Running as root, nginx's workers would switch to `nobody`, who cannot enter a 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root;' : '';
  const conf = `
${user}
worker_processes ${options.workers ?? 1};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  log_format fairpatch ${LOG_FORMAT};
  access_log ${dir}/access.log fairpatch;
  ${http.replaceAll('{{PORT}}', String(port)).replaceAll('{{DIR}}', dir)}
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child = spawn(
    bin,
    ['-c', file, '-p', dir, '-e', join(dir, 'error.log'), '-g', 'daemon off;'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await accepts(port))) {
    const errors = existsSync(join(dir, 'error.log'))
      ? readFileSync(join(dir, 'error.log'), 'utf8')
      : '';
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `nginx did not start (exit ${child.exitCode}):\n${output}\n${errors}\n${conf}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    process: child,
    accessLog: () =>
      parseAccessLog(
        existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8') : '',
      ),
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        // SIGTERM: fast shutdown, the master stops its workers (and flushes the access log).
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
