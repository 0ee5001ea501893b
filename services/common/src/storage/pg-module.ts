import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * `pg`, required when first used rather than imported: OpenTelemetry's pg instrumentation hooks
 * `require` once tracing starts, and a bundled service (the collector's) would otherwise load pg
 * with the bundle, before tracing could start.
 */
export function loadPg(): typeof import('pg') {
  return require('pg');
}
