import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

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
  /**
   * Writes line protocol (lines separated by newlines); resolves once InfluxDB answered 204, rejects
   * with RejectedWriteError for a permanent refusal.
   */
  write(lines: string | Buffer): Promise<void>;
};

export type InfluxTarget = { url: string; token: string; org: string; bucket: string };

const gzip = promisify(zlib.gzip);

/**
 * Writes line protocol in one gzip request per call, on kept-alive
 * connections. Not the client library's WriteApi, which stamps points without a time with "now" and
 * drops the oldest lines when its retry buffer is full: the caller retries, and acknowledges only
 * after a 204. Nor its transport, which compresses at zlib's default level: level 1 costs a third of
 * the CPU for a body a few percent larger, and the collector's CPU is the scarcer resource.
 */
export function createInfluxWriter(
  target: InfluxTarget,
  options: { timeoutMs: number; gzipLevel: number },
): InfluxWriter {
  const base = new URL(target.url);
  const transport = base.protocol === 'https:' ? https : http;
  const agent = new transport.Agent({ keepAlive: true });
  // An IPv6 literal comes in brackets, which http.request would take for a name.
  const host = base.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = `${base.pathname.replace(/\/$/, '')}/api/v2/write?${new URLSearchParams({
    org: target.org,
    bucket: target.bucket,
    precision: 'ns',
  })}`;
  const headers = {
    authorization: `Token ${target.token}`,
    'content-type': 'text/plain; charset=utf-8',
    'content-encoding': 'gzip',
  };
  return {
    async write(lines) {
      if (lines.length === 0) return;
      const body = await gzip(lines, { level: options.gzipLevel });
      const { status, text } = await post(transport, {
        agent,
        host,
        port: base.port,
        path,
        headers: { ...headers, 'content-length': String(body.length) },
        body,
        timeoutMs: options.timeoutMs,
      });
      if (status === 204) return;
      if ([400, 413, 422].includes(status)) throw new RejectedWriteError(status, text);
      throw new Error(`InfluxDB write answered ${status}: ${text.slice(0, 300)}`);
    },
  };
}

type Post = {
  agent: http.Agent;
  host: string;
  port: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
};

function post(
  transport: typeof http | typeof https,
  request: Post,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = transport.request(
      {
        method: 'POST',
        agent: request.agent,
        host: request.host,
        port: request.port,
        path: request.path,
        headers: request.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    // A server that stops answering mid-response would otherwise leave the write pending for good.
    req.setTimeout(request.timeoutMs, () =>
      req.destroy(new Error(`write timed out after ${request.timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(request.body);
  });
}
