export * from './checkpoint.js';
export * from './leaves.js';
export * from './merkle.js';
export * from './note.js';
export * from './sequencer.js';
export * from './store.js';
export * from './tree.js';
