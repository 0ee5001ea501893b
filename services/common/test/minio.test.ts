import { randomBytes } from 'node:crypto';
import type { BucketItem } from 'minio';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, s3Env } from '../src/index.js';
import { createObjectStore } from '../src/storage/object-store.js';

const store = createObjectStore(loadConfig(s3Env, inject('stackEnv')));
const bucket = `vitest-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const names = (await listAll('')).map((item) => item.name ?? '');
  await store.removeObjects(bucket, names);
  await store.removeBucket(bucket);
});

function listAll(prefix: string): Promise<BucketItem[]> {
  return store.listObjectsV2(bucket, prefix, true).toArray();
}

describe('MinIO through minio', () => {
  it('creates a bucket, puts objects, lists a prefix and gets the exact bytes back', async () => {
    await store.makeBucket(bucket);
    expect(await store.bucketExists(bucket)).toBe(true);

    // Raw MQTT payloads are arbitrary bytes: the archive must keep them exactly.
    const payload = Buffer.concat([
      Buffer.from('{"temperature":23.5}\n'),
      Buffer.from([0, 255, 10, 13, 128]),
    ]);
    await store.putObject(bucket, 'raw/device-001/0001.bin', payload, payload.length, {
      'content-type': 'application/octet-stream',
    });
    await store.putObject(bucket, 'raw/device-002/0001.bin', Buffer.from('x'));
    await store.putObject(bucket, 'quarantine/0001.bin', Buffer.from('not json'));

    const listed = await listAll('raw/');
    expect(listed.map((item) => [item.name, item.size])).toEqual([
      ['raw/device-001/0001.bin', payload.length],
      ['raw/device-002/0001.bin', 1],
    ]);

    const body = Buffer.concat(await (await store.getObject(bucket, 'raw/device-001/0001.bin')).toArray());
    expect(body.equals(payload)).toBe(true);
    const stat = await store.statObject(bucket, 'raw/device-001/0001.bin');
    expect(stat.metaData['content-type']).toBe('application/octet-stream');
  });
});
