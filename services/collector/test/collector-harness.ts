import { randomBytes } from 'node:crypto';
import {
  type ArchiveRecord,
  createInflux,
  createLogger,
  createMetricsRegistry,
  createObjectStore,
  influxEnv,
  loadConfig,
  readArchiveRecords,
  s3Env,
} from '@iot-meter/common';
import {
  createTestBucket,
  createTestDatabase,
  createTestInfluxBucket,
  stackMqttEnv,
  stackMqttLogin,
  type TestBucket,
  type TestDatabase,
  type TestInfluxBucket,
} from '@iot-meter/common/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { type Collector, startCollector } from '../src/collector.js';
import { type CollectorConfig, collectorConfig } from '../src/config.js';

/**
 * A collector on the local stack with its own database, bucket and share group, so test files
 * running side by side never see each other's stored data.
 */
export class CollectorHarness {
  readonly run = randomBytes(4).toString('hex');
  config!: CollectorConfig;
  database!: TestDatabase;
  influx!: TestInfluxBucket;
  bucket!: TestBucket;
  /** The running collector's metrics (a fresh registry on every start). */
  registry = createMetricsRegistry('collector');
  private collector: Collector | undefined;
  private publishers: MqttClient[] = [];

  /** `defaults` go into every collector's environment (before a call's own overrides). */
  constructor(
    private readonly stackEnv: Record<string, string>,
    private readonly defaults: Record<string, string> = {},
  ) {}

  /** Creates the test database, InfluxDB bucket and S3 bucket, each with the collector's own credentials. */
  async prepare(): Promise<void> {
    this.database ??= await createTestDatabase(this.stackEnv.DATABASE_URL ?? '');
    this.influx ??= await createTestInfluxBucket(loadConfig(influxEnv, this.stackEnv), 'collector-test');
    this.bucket ??= await createTestBucket(this.stackEnv, 'collector-test');
    this.config = loadConfig(collectorConfig, this.env());
  }

  /**
   * A collector's environment: the stack's, its own broker account, and this harness's database,
   * buckets and share group, with the collector's own least-privilege credentials in each store
   * (docs/security.md).
   */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...this.stackEnv,
      ...stackMqttEnv(this.stackEnv, 'collector'),
      DATABASE_URL: this.database.urlAs(this.stackEnv.COLLECTOR_DATABASE_URL ?? ''),
      INFLUX_BUCKET: this.influx.name,
      INFLUX_TOKEN: this.influx.writeToken,
      S3_BUCKET: this.bucket.name,
      ...this.bucket.credentials.collector,
      MQTT_SHARE_GROUP: `test-${this.run}`,
      MQTT_CLIENT_ID: `test-${this.run}-0`,
      MQTT_SESSION_EXPIRY_SECONDS: '300',
      INGEST_FLUSH_INTERVAL_MS: '100',
      ...this.defaults,
      ...overrides,
    };
  }

  /** Runs a collector in this process. */
  async start(overrides: Record<string, string> = {}): Promise<void> {
    await this.prepare();
    const config = loadConfig(collectorConfig, this.env(overrides));
    this.registry = createMetricsRegistry('collector');
    this.collector = await startCollector(config, createLogger('collector', 'silent'), this.registry);
  }

  async stop(options: { endSession?: boolean } = {}): Promise<void> {
    await this.collector?.stop(options);
    this.collector = undefined;
  }

  /** Ends a collector's persistent session at the broker, as a scale-down does after draining it. */
  async endSession(clientId: string): Promise<void> {
    // A clean start discards the stored session; expiry 0 drops the new one on disconnect.
    const client = await mqtt.connectAsync(this.config.MQTT_URL, {
      ...stackMqttLogin(this.stackEnv, 'collector'),
      clientId,
      clean: true,
      protocolVersion: 5,
      reconnectPeriod: 0,
    });
    await client.endAsync();
  }

  /** Ends the session, removes the bucket's objects and the database. */
  async dispose(): Promise<void> {
    if (!this.database) return;
    await this.stop({ endSession: true });
    await Promise.all(this.publishers.map((p) => p.endAsync()));
    await this.bucket.drop();
    await this.database.drop();
    await this.influx.drop();
  }

  /**
   * A device-side client (the stack's test client: it may publish as any device, hostile topics
   * too); it reconnects and resends unacknowledged messages after a broker restart.
   */
  async publisher(reconnectPeriod = 300): Promise<MqttClient> {
    const client = await mqtt.connectAsync(this.config.MQTT_URL, {
      ...stackMqttLogin(this.stackEnv),
      clientId: `pub-${this.run}-${this.publishers.length}`,
      protocolVersion: 5,
      reconnectPeriod,
      clean: false,
      properties: { sessionExpiryInterval: 300 },
    });
    this.publishers.push(client);
    return client;
  }

  /** The archive as the root user sees it: the collector's own user may only put objects. */
  objectStore() {
    return createObjectStore(loadConfig(s3Env, { ...this.stackEnv, S3_BUCKET: this.bucket.name }));
  }

  /** Archived records for a device, read through the index the way the API will. */
  async archived(kind: 'raw' | 'quarantine', deviceId: string) {
    const segments = await this.database.db
      .selectFrom('archive_segments')
      .selectAll()
      .where('kind', '=', kind)
      .where('device_id', '=', deviceId)
      .orderBy('first_received_at')
      .orderBy('id')
      .execute();
    const records = [];
    for (const s of segments) {
      const stream = await this.objectStore().getPartialObject(
        this.config.S3_BUCKET,
        s.object_key,
        Number(s.byte_offset),
        Number(s.byte_length),
      );
      records.push(...readArchiveRecords(Buffer.concat(await stream.toArray())));
    }
    return records;
  }

  /**
   * Archived records of many devices at once, read through the index: each object is fetched once
   * (a soak's runs hold thousands of objects with a segment per device in each).
   */
  async archivedByDevice(kind: 'raw' | 'quarantine', deviceIds: readonly string[]) {
    const byDevice = new Map<string, ArchiveRecord[]>();
    if (deviceIds.length === 0) return byDevice;
    const segments = await this.database.db
      .selectFrom('archive_segments')
      .select(['object_key', 'device_id', 'byte_offset', 'byte_length'])
      .where('kind', '=', kind)
      .where('device_id', 'in', [...deviceIds])
      .execute();
    const byObject = new Map<string, typeof segments>();
    for (const s of segments) byObject.set(s.object_key, [...(byObject.get(s.object_key) ?? []), s]);
    const keys = [...byObject.keys()];
    const read = async () => {
      for (let key = keys.pop(); key !== undefined; key = keys.pop()) {
        const stream = await this.objectStore().getObject(this.config.S3_BUCKET, key);
        const body = Buffer.concat(await stream.toArray());
        for (const s of byObject.get(key) ?? []) {
          const start = Number(s.byte_offset);
          const records = byDevice.get(s.device_id) ?? [];
          records.push(...readArchiveRecords(body.subarray(start, start + Number(s.byte_length))));
          byDevice.set(s.device_id, records);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, read));
    return byDevice;
  }

  /** Points stored in InfluxDB for a device, ordered by time and metric. */
  async points(deviceId: string): Promise<{ metric: string; unit: string; time: string; value: number }[]> {
    // The admin's token: the collector's may only write.
    const rows = await createInflux({ ...this.config, INFLUX_TOKEN: this.stackEnv.INFLUX_TOKEN ?? '' })
      .getQueryApi(this.config.INFLUX_ORG)
      .collectRows<Record<string, string | number>>(`
        from(bucket: "${this.config.INFLUX_BUCKET}")
          |> range(start: 1970-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
          |> filter(fn: (r) => r._measurement == "iot_telemetry" and r.device_id == "${deviceId}")
          |> group()
          |> sort(columns: ["_time", "metric"])`);
    return rows.map((r) => ({
      metric: String(r.metric),
      unit: String(r.unit ?? ''),
      time: String(r._time),
      value: Number(r._value),
    }));
  }

  async archivedCount(kind: 'raw' | 'quarantine', deviceId: string): Promise<number> {
    const row = await this.database.db
      .selectFrom('archive_segments')
      .select((eb) => eb.fn.sum<string>('message_count').as('n'))
      .where('kind', '=', kind)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
