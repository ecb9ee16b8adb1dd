import { TileReader } from '../../src/audit/tile-reader.js';

// A crowd of auditors' tile readers in a process of their own (not the origin's: a reader's
// decoding and hashing must not hold up the server it measures):
//   node tile-readers-child.js URL SIZE ROOT_HEX COUNT
// each reads every entry bundle of the tree and a root just below its size (hash tiles), all at
// once; prints {"failed", "firstFailure", "requestsPerReader", "bytesPerReader", "seconds"}.
const [url, size, root, count] = process.argv.slice(2) as [string, string, string, string];
const t0 = performance.now();
const readers = Array.from(
  { length: Number(count) },
  () => new TileReader(url, Number(size), Buffer.from(root, 'hex')),
);
const outcomes = await Promise.allSettled(
  readers.map(async (reader) => {
    await reader.entries(0, reader.size, () => {});
    await reader.rootAt(reader.size - 1);
  }),
);
const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [String(o.reason)] : []));
console.log(
  JSON.stringify({
    failed: failed.length,
    firstFailure: failed[0],
    requestsPerReader: readers[0]!.traffic.requests,
    bytesPerReader: readers[0]!.traffic.bytes,
    seconds: (performance.now() - t0) / 1000,
  }),
);
