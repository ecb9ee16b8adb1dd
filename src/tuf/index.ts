export * from './canonical.js';
export * from './keys.js';
export * from './metadata.js';
export * from './roles.js';
export * from './schema.js';
export * from './time.js';
