import { HttpError, type InfluxDB } from '@influxdata/influxdb-client';

/** A write InfluxDB refused for its content (bad line, type conflict, too large): retrying will not help. */
export class RejectedWriteError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export type InfluxWriter = {
  /** Resolves once InfluxDB answered 204; rejects with RejectedWriteError for a permanent refusal. */
  write(lines: readonly string[]): Promise<void>;
};

/**
 * Writes line protocol in one gzip request per call through the client's transport. The client's
 * own WriteApi is not used: it stamps points without a time with "now" and its retry buffer drops
 * the oldest lines when full; the caller retries instead, and acknowledges only after a 204.
 */
export function createInfluxWriter(
  influx: InfluxDB,
  target: { org: string; bucket: string },
  options: { timeoutMs: number },
): InfluxWriter {
  const path = `/api/v2/write?org=${encodeURIComponent(target.org)}&bucket=${encodeURIComponent(target.bucket)}&precision=ns`;
  return {
    async write(lines) {
      if (lines.length === 0) return;
      // Not AbortSignal.timeout: the client listens on the signal, and a timeout signal with
      // listeners lives until it fires, holding every request body for the whole timeout.
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error('write timed out')), options.timeoutMs);
      try {
        await influx.transport.request(path, lines.join('\n'), {
          method: 'POST',
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          gzipThreshold: 1024,
          signal: abort.signal,
        });
      } catch (err) {
        if (err instanceof HttpError && [400, 413, 422].includes(err.statusCode)) {
          throw new RejectedWriteError(err.statusCode, err.body ?? err.message);
        }
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
