import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The nginx binary from Debian's package; a missing one is a failure with the fix, never a skip. */
export function nginxBinary(): string {
  for (const path of ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx']) if (existsSync(path)) return path;
  const found = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  throw new Error('nginx not found: run scripts/install-system-packages.sh (it installs nginx from Debian)');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

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
    entries.push({ atMs: Math.round(Number(msec) * 1000), status: Number(status), cache: cache ?? '-', origin: upstream !== '-', path });
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

/**
 * The upstream and server that keep the tick (the same one docs/production.md shows): the cache obeys the
 * origin's headers, so timestamp.json lives until its tick's end (X-Accel-Expires) and versioned
 * files a year; errors are never stored (no-store) and never served stale.
 */
export function cacheServer(options: CacheConfigOptions): string {
  return `
    upstream fairpatch {
      ${options.upstreams.map((u) => `server ${u} max_fails=0;`).join('\n      ')}
      keepalive 64;
    }
    server {
      listen 127.0.0.1:{{PORT}} reuseport backlog=4096;
      keepalive_requests 1000000;
      location / {
        proxy_pass http://fairpatch;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache fairpatch;
        proxy_cache_revalidate on;
        ${options.misconfigured ? 'proxy_ignore_headers Cache-Control Expires X-Accel-Expires;\n        proxy_cache_valid 200 60s;' : ''}
      }
    }`;
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
 * `stop()`. `http` is the body of the http block; `{{PORT}}` is replaced by the port.
 */
export async function startNginx(http: string, options: { workers?: number; timeoutMs?: number } = {}): Promise<StartedNginx> {
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
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=fairpatch:10m max_size=2g inactive=10m use_temp_path=off;
  ${http.replaceAll('{{PORT}}', String(port))}
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child = spawn(bin, ['-c', file, '-p', dir, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!(await accepts(port))) {
    const errors = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start (exit ${child.exitCode}):\n${output}\n${errors}\n${conf}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    process: child,
    accessLog: () => parseAccessLog(existsSync(join(dir, 'access.log')) ? readFileSync(join(dir, 'access.log'), 'utf8') : ''),
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
