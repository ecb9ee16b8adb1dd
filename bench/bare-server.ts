import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

// The baseline: a bare Hono route serving fixed bytes (a timestamp.json captured from fairpatch),
// through the same @hono/node-server, with the same headers.
const bytes = readFileSync(process.argv[2] as string);
const app = new Hono();
app.get('/g/:group/metadata/timestamp.json', (c) =>
  c.body(bytes, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=0' }),
);
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
  console.log(`bare hono on http://127.0.0.1:${info.port}`),
);
