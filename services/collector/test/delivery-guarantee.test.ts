import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { CollectorHarness } from './collector-harness.js';
import { CollectorProcess } from './collector-process.js';
import { publishStream } from './device-stream.js';
import { PrivateStack } from './private-stack.js';

// The fault suite of the delivery guarantee: every message the broker acknowledged ends up in
// InfluxDB (exactly one point each) and in the raw archive, whatever is killed or stopped mid-stream.
// It runs on a private stack (other ports) with the chart's crash-safe Mosquitto persistence, so
// killing servers never disturbs the other test files.

const MESSAGES = 3000;
const PER_SECOND = 300;
const OUTAGE_MS = 30_000;

const stack = new PrivateStack(200, { IOT_STACK_MOSQUITTO_CRASH_SAFE: '1' });
let harness: CollectorHarness;
let collector: CollectorProcess;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => stack.up(), 300_000);
afterAll(() => stack.destroy());

beforeEach(async () => {
  harness = new CollectorHarness(stack.env);
  await harness.prepare();
  collector = new CollectorProcess(harness.env(), 18_400);
  await collector.start();
  onTestFailed(async () => {
    console.error(`collector log tail:\n${collector.output.slice(-4000)}`);
    console.error(await fetch(`http://127.0.0.1:${collector.port}/metrics`).then((r) => r.text(), String));
  });
});

afterEach(async () => {
  await collector.stop('SIGTERM');
  await harness.endSession(harness.config.MQTT_CLIENT_ID);
  await harness.dispose();
});

/** All `count` messages of the device: one point each in InfluxDB and each seq in the raw archive. */
async function expectAllStored(deviceId: string, count: number): Promise<void> {
  await expect
    .poll(async () => (await harness.points(deviceId)).length, { timeout: 120_000, interval: 1000 })
    .toBe(count);
  const values = (await harness.points(deviceId)).map((p) => p.value);
  expect(values).toEqual(Array.from({ length: count }, (_, seq) => seq));
  await expect
    .poll(() => harness.archivedCount('raw', deviceId), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(count);
  const archivedSeqs = new Set(
    (await harness.archived('raw', deviceId)).map((r) => JSON.parse(Buffer.from(r.payload).toString()).seq),
  );
  expect(archivedSeqs.size).toBe(count);
  expect(await harness.archivedCount('quarantine', deviceId)).toBe(0);
}

async function streamWithFault(deviceId: string, fault: () => Promise<void>): Promise<void> {
  const publisher = await harness.publisher();
  const stream = publishStream(publisher, deviceId, MESSAGES, PER_SECOND);
  await sleep(2000);
  await fault();
  expect(await stream).toHaveLength(MESSAGES);
  await expectAllStored(deviceId, MESSAGES);
}

describe.sequential('no acknowledged message is lost', { timeout: 240_000 }, () => {
  it('a. when the collector is killed with SIGKILL mid-stream and restarted with the same id, twice', async () => {
    await streamWithFault(`a-${harness.run}`, async () => {
      for (let round = 0; round < 2; round += 1) {
        await collector.stop('SIGKILL');
        await sleep(1000);
        await collector.start();
        await sleep(2000);
      }
    });
  });

  for (const server of ['influxdb', 'minio', 'postgres'] as const) {
    it(`${{ influxdb: 'b', minio: 'c', postgres: 'd' }[server]}. when ${server} is stopped for 30 s mid-stream`, async () => {
      await streamWithFault(`${server}-${harness.run}`, async () => {
        stack.signal('stop', server);
        await sleep(OUTAGE_MS);
        stack.signal('start', server);
      });
      expect(await collector.metric('iot_collector_store_errors_total')).toBeGreaterThan(0);
    });
  }

  it('e. when Mosquitto is stopped with SIGTERM and restarted, and when it is killed with SIGKILL', async () => {
    await streamWithFault(`e-${harness.run}`, async () => {
      stack.signal('stop', 'mosquitto');
      await sleep(2000);
      stack.signal('start', 'mosquitto');
      await sleep(3000);
      stack.signal('kill', 'mosquitto');
      await sleep(2000);
      stack.signal('start', 'mosquitto');
    });
  });
});
