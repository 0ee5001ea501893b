import { Client } from 'minio';
import type { S3Env } from '../config/env-schemas.js';

/** An S3 client for `S3_ENDPOINT` (path-style, as MinIO and most self-hosted stores need). */
export function createObjectStore(config: S3Env): Client {
  const endpoint = new URL(config.S3_ENDPOINT);
  const useSSL = endpoint.protocol === 'https:';
  return new Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: config.S3_ACCESS_KEY,
    secretKey: config.S3_SECRET_KEY,
    pathStyle: true,
  });
}
