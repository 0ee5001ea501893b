import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SAMPLE_STORE_ENV } from '../testing/sample-env.js';
import { databaseEnv, influxEnv, s3Env, serviceEnv } from './env-schemas.js';
import { ConfigError, loadConfig } from './load-config.js';

const schema = serviceEnv(8080).extend(databaseEnv.shape).extend(influxEnv.shape).extend(s3Env.shape);

const valid = SAMPLE_STORE_ENV;

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    expect(loadConfig(schema, valid)).toEqual({
      ...valid,
      PORT: 8080,
      LOG_LEVEL: 'info',
      INFLUX_ORG: 'iot-org',
      INFLUX_BUCKET: 'iot-metrics',
      S3_BUCKET: 'iot-data',
    });
  });

  it('reports every bad variable in one error and never echoes a secret', () => {
    const problems = problemsOf({
      ...valid,
      PORT: '70000',
      DATABASE_URL: 'mysql://x',
      INFLUX_TOKEN: '',
      S3_SECRET_KEY: '',
      S3_BUCKET: 'Bad_Bucket',
      LOG_LEVEL: 'loud',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'PORT',
      'LOG_LEVEL',
      'DATABASE_URL',
      'INFLUX_TOKEN',
      'S3_SECRET_KEY',
      'S3_BUCKET',
    ]);
    expect(problems[0]).toBe('PORT: Too big: expected number to be <=65535 (got "70000")');
    expect(problems[3]).toMatch(/^INFLUX_TOKEN: .* \(unset\)$/);
    expect(problems[5]).toBe('S3_BUCKET: must be a valid S3 bucket name (got "Bad_Bucket")');
  });

  it('shows a bad secret as *** and a good config as parsed values', () => {
    const secretSchema = z.object({ API_ADMIN_KEY: z.string().min(16), PORT: z.coerce.number() });
    expect(() => loadConfig(secretSchema, { API_ADMIN_KEY: 'hunter2', PORT: '1' })).toThrow(
      'invalid configuration:\n  API_ADMIN_KEY: Too small: expected string to have >=16 characters (got "***")',
    );
    expect(loadConfig(secretSchema, { API_ADMIN_KEY: 'k'.repeat(16), PORT: '1' })).toEqual({
      API_ADMIN_KEY: 'k'.repeat(16),
      PORT: 1,
    });
  });
});
