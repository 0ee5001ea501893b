import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type S3Env, s3Env } from '../config/env-schemas.js';
import { loadConfig } from '../config/load-config.js';
import { createObjectStore } from '../storage/object-store.js';

const run = promisify(execFile);
// The chart's policies, the one place that says what each service may do in the bucket.
const POLICIES = new URL('../../../../charts/iot-meter/files/s3-policies/', import.meta.url);
const SERVICES = ['collector', 'device-manager'] as const;

export type S3Credentials = Pick<S3Env, 'S3_ACCESS_KEY' | 'S3_SECRET_KEY'>;

export type TestBucket = {
  name: string;
  /** A user per service with the chart's policy for this bucket, as the stack's are for its own. */
  credentials: Record<(typeof SERVICES)[number], S3Credentials>;
  /** Removes the bucket with its objects, the users and their policies. */
  drop: () => Promise<void>;
};

export type MinioAdmin = {
  /** Runs `mc <args>` with the stack's MinIO as the alias `stack`, as its root user; resolves with stdout. */
  mc: (...args: string[]) => Promise<string>;
  close: () => Promise<void>;
};

/** MinIO's admin API through the stack's `mc` (MC_BIN), with a config folder of its own. */
export async function createMinioAdmin(stackEnv: Record<string, string>): Promise<MinioAdmin> {
  const s3 = loadConfig(s3Env, stackEnv);
  const configDir = await mkdtemp(join(tmpdir(), 'iot-meter-mc-'));
  // http://key:secret@host:port
  const host = new URL(s3.S3_ENDPOINT);
  host.username = s3.S3_ACCESS_KEY;
  host.password = s3.S3_SECRET_KEY;
  const env = { ...process.env, MC_CONFIG_DIR: configDir, MC_HOST_stack: host.href.replace(/\/$/, '') };
  return {
    mc: async (...args) => (await run(stackEnv.MC_BIN ?? 'mc', ['--quiet', ...args], { env })).stdout,
    close: () => rm(configDir, { recursive: true, force: true }),
  };
}

/** A fresh bucket on the stack's MinIO for one test file, with each service's own user on it. */
export async function createTestBucket(
  stackEnv: Record<string, string>,
  prefix = 'test',
): Promise<TestBucket> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  const admin = createObjectStore(loadConfig(s3Env, stackEnv));
  await admin.makeBucket(name);
  const { mc, close } = await createMinioAdmin(stackEnv);
  const policies = await mkdtemp(join(tmpdir(), 'iot-meter-policies-'));
  const credentials = {} as TestBucket['credentials'];
  for (const service of SERVICES) {
    const user = `${name}-${service}`;
    const policy = join(policies, `${service}.json`);
    const template = await readFile(new URL(`${service}.json`, POLICIES), 'utf8');
    await writeFile(policy, template.replaceAll('@BUCKET@', name));
    await mc('admin', 'policy', 'create', 'stack', user, policy);
    const secret = randomBytes(16).toString('hex');
    await mc('admin', 'user', 'add', 'stack', user, secret);
    await mc('admin', 'policy', 'attach', 'stack', user, '--user', user);
    credentials[service] = { S3_ACCESS_KEY: user, S3_SECRET_KEY: secret };
  }
  await rm(policies, { recursive: true, force: true });
  return {
    name,
    credentials,
    async drop() {
      const objects = await admin.listObjectsV2(name, '', true).toArray();
      await admin.removeObjects(
        name,
        objects.map((o) => o.name ?? ''),
      );
      await admin.removeBucket(name);
      for (const service of SERVICES) {
        await mc('admin', 'user', 'rm', 'stack', `${name}-${service}`);
        await mc('admin', 'policy', 'rm', 'stack', `${name}-${service}`);
      }
      await close();
    },
  };
}
