// Shared with the benchmarks (which import nothing from test/): the harness lives in bench/lib.
export * from '../../bench/lib/nginx.js';
