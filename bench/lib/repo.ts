import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPrivateKey } from '../../src/keys/key-files.js';
import { generateRepositoryKeys, generateVendorKey } from '../../src/keys/keygen.js';
import { buildRegistration, buildRelease } from '../../src/publish/build.js';
import { PublisherClient, hashFile } from '../../src/publish/client.js';
import type { KeyPair } from '../../src/tuf/keys.js';
import type { Envelope, TargetsSigned } from '../../src/tuf/metadata.js';
import { CLI, type Proc, startProcess } from './proc.js';
import { SERVING_FLAGS } from '../../src/serving/serving-flags.js';

const OPERATOR = 'bench-operator-token-0123456789abcdef';

/** A repository on disk (keys, data) that benchmark nodes are started over. */
export class BenchRepo {
  readonly dir = mkdtempSync(join(tmpdir(), 'fairpatch-bench-'));
  readonly keys = join(this.dir, 'keys');
  private vendorKey: KeyPair | undefined;
  private vendorToken = '';
  private releases = 0;

  constructor() {
    generateRepositoryKeys({ dir: this.keys, now: Date.now() });
  }

  /**
   * A `fairpatch serve` process; `DATABASE_URL` in `env` shares one database between nodes, and
   * `data` one data directory (its blob store holds the artifacts every node serves). One worker
   * process unless `extra` says `--workers`.
   */
  node(
    name: string,
    extra: string[] = [],
    env: Record<string, string> = {},
    data = name,
  ): Promise<Proc> {
    const workers = extra.includes('--workers') ? [] : ['--workers', '1'];
    return startProcess(
      [
        // As `fairpatch serve` and npm start run it (src/serving/serving-flags.ts).
        ...SERVING_FLAGS,
        ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        CLI,
        'serve',
        '--port',
        '0',
        '--data',
        join(this.dir, `data-${data}`),
        '--keys',
        this.keys,
        '--min-lead',
        '2s',
        '--node-name',
        name,
        ...workers,
        ...extra,
      ],
      {
        FAIRPATCH_OPERATOR_TOKEN: OPERATOR,
        ...env,
      },
    );
  }

  /**
   * Two nodes over one SQLite file and one data directory (the blob store both serve artifacts
   * from), pushed onto `nodes` for the caller to stop, with a vendor registered and its delegation
   * live: the origin the cache benchmarks put nginx in front of. Returns the repository's tick clock.
   */
  async twoNodesWithVendor(nodes: Proc[]): Promise<{ epochMs: number; tickMs: number }> {
    const env = { DATABASE_URL: join(this.dir, 'shared.sqlite') };
    for (const name of ['node-1', 'node-2']) nodes.push(await this.node(name, [], env, 'shared'));
    await this.addVendor(nodes[0]!.url);
    await new Promise((r) => setTimeout(r, 3000)); // the delegation's lead time
    const health = (await (await fetch(`${nodes[0]!.url}/healthz`)).json()) as {
      epoch_ms: number;
      tick_ms: number;
    };
    return { epochMs: health.epoch_ms, tickMs: health.tick_ms };
  }

  async addVendor(server: string): Promise<void> {
    this.vendorKey = generateVendorKey(this.keys, 'acme');
    const body = buildRegistration({
      name: 'acme',
      vendorKey: this.vendorKey,
      targetsKey: readPrivateKey(join(this.keys, 'targets.key')),
      previousTop: await this.top(server),
      now: Date.now(),
    });
    const response = (await new PublisherClient(server, OPERATOR).postJson('/vendors', body)) as {
      token: string;
    };
    this.vendorToken = response.token;
  }

  private async top(server: string): Promise<TargetsSigned> {
    return (
      (await new PublisherClient(server, OPERATOR).request(
        'GET',
        '/top-targets/latest',
      )) as Envelope<TargetsSigned>
    ).signed;
  }

  /**
   * Publishes an artifact released at `releaseAt` (whole seconds): a small script, or the file at
   * `file`. Returns its activation tick, target path and hashes.
   */
  async release(
    server: string,
    releaseAt: number | (() => number),
    file?: string,
  ): Promise<{
    activationTick: number;
    activatesAt: string;
    path: string;
    sha256: string;
    length: number;
  }> {
    const client = new PublisherClient(server, this.vendorToken);
    const n = ++this.releases;
    const path = file ?? join(this.dir, `fix-${n}.sh`);
    if (!file) writeFileSync(path, `echo fix ${n}\n`);
    const artifact = {
      platform: 'linux-x64',
      name: file ? `acme-agent-2.${n}.0.bin` : `acme-agent-2.${n}.0.sh`,
      path,
      ...(await hashFile(path)),
    };
    await client.uploadBlob('acme', artifact);
    const previous = await client.latestVendorMetadata('acme');
    const manifest = {
      vendor: 'acme',
      product: 'acme-agent',
      version: `2.${n}.0`,
      channel: 'stable',
      severity: 'critical' as const,
      cves: [],
      applies_to: `<2.${n}.0`,
      release_at: '+0s',
      artifacts: [],
    };
    const envelope = buildRelease({
      manifest,
      artifacts: [artifact],
      // A large upload takes a while: the time may be decided once it is stored.
      releaseAt: typeof releaseAt === 'function' ? releaseAt() : releaseAt,
      previous: previous.signed,
      vendorKey: this.vendorKey!,
      now: Date.now(),
    });
    const staged = (await client.postJson('/vendors/acme/metadata', envelope)) as {
      activationTick: number;
      activatesAt: string;
    };
    return {
      ...staged,
      path: `acme/${artifact.name}`,
      sha256: artifact.sha256,
      length: artifact.length,
    };
  }

  readRoot(): string {
    return readFileSync(join(this.keys, '1.root.json'), 'utf8');
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
