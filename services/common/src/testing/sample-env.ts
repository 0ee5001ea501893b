/** A valid environment for the stores' variables (never connected to): for config tests. */
export const SAMPLE_STORE_ENV = {
  DATABASE_URL: 'postgresql://iot:pw@127.0.0.1:5432/iot',
  INFLUX_URL: 'http://127.0.0.1:8086',
  INFLUX_TOKEN: 'token',
  S3_ENDPOINT: 'http://127.0.0.1:9000',
  S3_ACCESS_KEY: 'key',
  S3_SECRET_KEY: 'secret',
} as const;
