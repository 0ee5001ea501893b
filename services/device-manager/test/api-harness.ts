import { randomBytes } from 'node:crypto';
import type { QueryApi } from '@influxdata/influxdb-client';
import {
  createDatabase,
  createInflux,
  createLeadership,
  createLogger,
  createObjectStore,
  type Database,
  influxEnv,
  type Leadership,
  loadConfig,
  s3Env,
} from '@iot-meter/common';
import {
  createTestBucket,
  createTestDatabase,
  createTestInfluxBucket,
  stackMqttLogin,
  type TestBucket,
  type TestDatabase,
  type TestInfluxBucket,
} from '@iot-meter/common/testing';
import type { Kysely } from 'kysely';
import type { Client } from 'minio';
import { createRuleEvaluator, type RuleEvaluatorOptions } from '../src/alert-rules/rule-evaluator.js';
import { createApp } from '../src/app.js';
import { type CommandPublisher, createCommandPublisher } from '../src/commands/command-publisher.js';
import type { DeviceManagerConfig } from '../src/config.js';
import { startReadCaches } from '../src/read-caches.js';
import type { History } from '../src/telemetry/downsampled-history.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef0123456789';

/** The API over a fresh database, called in-process; `call` adds the admin key unless told otherwise. */
export class ApiHarness {
  /** The test database; its `db` is the owner's, for setup and checks behind the API's back. */
  database!: TestDatabase;
  /** The API's own pool, under the device-manager's least-privilege login (docs/security.md). */
  apiDb!: Kysely<Database>;
  /** The test database as the device-manager's own login reaches it. */
  apiDatabaseUrl = '';
  /** A bucket of this harness's own in the stack's MinIO, for the archive. */
  bucket!: string;
  private testBucket!: TestBucket;
  /** The bucket as its root user sees it, for setup; the API reads with its own user. */
  store!: Client;
  /** An InfluxDB bucket of this harness's own, so tests never see each other's points. */
  influx!: TestInfluxBucket;
  commands!: CommandPublisher;
  app!: ReturnType<typeof createApp>;
  /** The API's InfluxDB reads, with its own read-only token. */
  influxQuery!: QueryApi;
  private leaderships: Leadership<Database>[] = [];
  /** Present when started with `readCacheMs`. */
  readCaches?: ReturnType<typeof startReadCaches>;

  readonly logger = createLogger('device-manager-test', 'silent');

  constructor(private readonly stackEnv: Record<string, string>) {}

  async start(
    config: Partial<DeviceManagerConfig> = {},
    options: {
      mqttUrl?: string;
      mqttUsername?: string;
      mqttPassword?: string;
      readCacheMs?: number;
      history?: History;
    } = {},
  ) {
    this.database = await createTestDatabase(this.stackEnv.DATABASE_URL ?? '');
    const apiDatabaseUrl = this.database.urlAs(this.stackEnv.DEVICE_MANAGER_DATABASE_URL ?? '');
    this.apiDatabaseUrl = apiDatabaseUrl;
    this.apiDb = createDatabase<Database>({ DATABASE_URL: apiDatabaseUrl });
    if (options.readCacheMs !== undefined) {
      this.readCaches = startReadCaches({
        databaseUrl: apiDatabaseUrl,
        ttlMs: options.readCacheMs,
        logger: this.logger,
        // A whole second down after a drop, so a test can ask while it is down.
        retry: { minMs: 1000, maxMs: 1000, random: () => 1 },
      });
    }
    const influx = loadConfig(influxEnv, this.stackEnv);
    this.influx = await createTestInfluxBucket(influx, 'dm-test');
    // The stack's broker under the API's own account, unless told another.
    const login = options.mqttUrl ? undefined : stackMqttLogin(this.stackEnv, 'device-manager');
    this.commands = createCommandPublisher({
      url: options.mqttUrl ?? this.stackEnv.MQTT_URL ?? '',
      username: options.mqttUsername ?? login?.username,
      password: options.mqttPassword ?? login?.password,
      clientId: `dm-test-${randomBytes(4).toString('hex')}`,
      timeoutMs: 2000,
      logger: this.logger,
    });
    this.testBucket = await createTestBucket(this.stackEnv, 'dm-test');
    this.bucket = this.testBucket.name;
    this.store = createObjectStore(loadConfig(s3Env, this.stackEnv));
    const apiStore = createObjectStore(
      loadConfig(s3Env, { ...this.stackEnv, ...this.testBucket.credentials['device-manager'] }),
    );
    // The API's own read-only token (docs/security.md).
    this.influxQuery = createInflux({
      ...influx,
      INFLUX_TOKEN: this.stackEnv.DEVICE_MANAGER_INFLUX_TOKEN ?? '',
    }).getQueryApi(influx.INFLUX_ORG);
    this.app = createApp({
      db: this.apiDb,
      influx: {
        query: this.influxQuery,
        bucket: this.influx.name,
        ...(options.history && { history: options.history }),
      },
      archive: { store: apiStore, bucket: this.bucket },
      commands: this.commands,
      logger: this.logger,
      caches: this.readCaches?.caches,
      config: {
        API_ADMIN_KEY: ADMIN_KEY,
        API_BODY_LIMIT_BYTES: 64 * 1024,
        API_IMPORT_LIMIT_BYTES: 256 * 1024,
        API_RATE_LIMIT_PER_SECOND: 10_000,
        API_RATE_LIMIT_BURST: 10_000,
        API_CLIENT_RATE_LIMIT_PER_SECOND: 10_000,
        API_CLIENT_RATE_LIMIT_BURST: 10_000,
        CORS_ORIGINS: [],
        API_TRUSTED_PROXIES: [],
        API_METRICS_MAX_POINTS: 10_000,
        ...config,
      },
    });
  }

  /** A request as curl would send it: JSON bodies carry their type and length. */
  async call(
    method: string,
    path: string,
    options: { json?: unknown; body?: string; headers?: Record<string, string>; key?: string | null } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    const key = options.key === undefined ? ADMIN_KEY : options.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const response = await this.app.request(path, { method, headers, body });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Writes line protocol (millisecond times) into this harness's bucket, or `bucket`. */
  async writePoints(lines: string[], bucket = this.influx.name) {
    const influx = loadConfig(influxEnv, this.stackEnv);
    const write = createInflux(influx).getWriteApi(influx.INFLUX_ORG, bucket, 'ms');
    write.writeRecords(lines);
    await write.close();
  }

  /**
   * An alert rule evaluator as the API runs it, over this harness's stores, leading by its own
   * advisory lock `lock` (released on dispose, or by closing the returned leadership).
   */
  ruleEvaluator(lock: readonly [number, number], options: Partial<RuleEvaluatorOptions> = {}) {
    const leadership = createLeadership<Database>(this.apiDatabaseUrl, lock);
    this.leaderships.push(leadership);
    const evaluator = createRuleEvaluator({
      db: this.apiDb,
      leadership,
      influx: { query: this.influxQuery, bucket: this.influx.name },
      intervalMs: 15_000,
      lookbackMs: 600_000,
      lateWindowMs: 60_000,
      maxLatenessMs: 6 * 3_600_000,
      logger: this.logger,
      ...options,
    });
    return { leadership, evaluator };
  }

  async dispose() {
    await Promise.all(this.leaderships.map((l) => l.close()));
    await this.commands.close();
    await this.readCaches?.close();
    await this.apiDb?.destroy();
    await this.database?.drop();
    await this.testBucket?.drop();
    await this.influx.drop();
  }
}
