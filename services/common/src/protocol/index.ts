// The device protocol alone, for code that must not load the rest of the library (the collector's
// decode worker threads start with only what decoding needs).
export * from './commands.js';
export * from './decode.js';
export * from './payloads.js';
export * from './timestamps.js';
export * from './topics.js';
