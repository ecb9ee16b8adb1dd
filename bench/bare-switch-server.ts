import { createServer } from 'node:http';
import { tickAt, tickStart } from '../src/common/tick.js';

// The switch's baseline: a bare node:http server that answers every poll with a document of the
// tick its clock is in, and nothing else (no database, no keys, no framework). Its first poll of each
// tick is what this machine allows at best: the pollers' spacing and the process getting a core.
const cfg = { epochMs: Number(process.argv[2]), tickMs: Number(process.argv[3]) };
const padding = 'x'.repeat(400);
const recent: Array<{
  tick: number;
  firstServedWallMs: number;
  lastPreviousServedWallMs: number;
}> = [];
let lastServedWall = Number.NaN;
let current = 0;
let body = Buffer.alloc(0);
createServer((req, res) => {
  if (req.url?.startsWith('/healthz')) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ recent_switches: recent, clock: null }));
    return;
  }
  const now = Date.now();
  const wall = performance.timeOrigin + performance.now();
  const k = tickAt(cfg, now);
  if (k !== current) {
    current = k;
    const start = tickStart(cfg, k);
    recent.push({
      tick: k,
      firstServedWallMs: wall - start,
      lastPreviousServedWallMs: lastServedWall - start,
    });
    if (recent.length > 120) recent.shift();
    body = Buffer.from(
      JSON.stringify({
        signed: { version: k, meta: { 'snapshot.json': { version: 0 } } },
        padding,
      }),
    );
  }
  lastServedWall = wall;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}).listen(0, '127.0.0.1', function (this: import('node:net').Server) {
  const address = this.address() as { port: number };
  console.log(`bare switch on http://127.0.0.1:${address.port}`);
});
