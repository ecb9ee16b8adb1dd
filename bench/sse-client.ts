import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';

// The load client of the push benchmark, in its own process: opens N event streams over G groups
// to one server on 127.0.0.1 with raw sockets (no HTTP parser: the client must not be the
// bottleneck it measures), says "ready", then records when each stream receives the activation.
const [url, countText, groupsText, waitText, outFile] = process.argv.slice(2);
const count = Number(countText);
const groups = Number(groupsText);
const base = new URL(url as string);
if (base.hostname !== '127.0.0.1') throw new Error('127.0.0.1 only');
const now = (): number => performance.timeOrigin + performance.now();
const received: Array<{ group: string; at: number }> = [];
let connected = 0;

for (let i = 0; i < count; i++) {
  const group = `group-${i % groups}`;
  const socket = connect(Number(base.port), '127.0.0.1');
  socket.setNoDelay(true);
  socket.write(
    `GET /g/${group}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`,
  );
  let open = false;
  let got = false;
  socket.on('data', (chunk: Buffer) => {
    const at = now();
    const text = chunk.toString('latin1');
    if (!open) {
      if (!text.startsWith('HTTP/1.1 200')) console.error(`stream ${i}: ${text.split('\r\n')[0]}`);
      open = true;
      if (++connected === count) console.log('ready');
    }
    if (!got && text.includes('event: activation')) {
      got = true;
      received.push({ group, at });
      if (received.length === count) finish();
    }
  });
  socket.on('error', (e) => console.error(`stream ${i}: ${e.message}`));
}

const timer = setTimeout(finish, Number(waitText ?? 120_000));
function finish(): void {
  clearTimeout(timer);
  // A file, written synchronously: a large stdout write may not be flushed before exit.
  writeFileSync(outFile as string, JSON.stringify({ connected, received }));
  console.log('done');
  process.exit(0);
}
