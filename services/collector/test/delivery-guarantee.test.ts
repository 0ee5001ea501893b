import { randomBytes } from 'node:crypto';
import { stackMqttLogin } from '@iot-meter/common/testing';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { PrivateStack } from '../../../scripts/stack/private-stack.js';
import { CollectorHarness } from './collector-harness.js';
import { CollectorProcess } from './collector-process.js';
import { Gate, publishStream, type StreamOptions, telemetry } from './device-stream.js';

// The fault suite of the delivery guarantee: every message the broker acknowledged ends up in
// InfluxDB (exactly one point each) and in the raw archive, whatever is killed or stopped mid-stream.
// It runs on a private stack (other ports), so killing servers never disturbs the other test files.

// A stream is at least MESSAGES long, and goes on for TAIL more after its last fault began.
const MESSAGES = 3000;
const TAIL = 600;
const PER_SECOND = 300;
const OUTAGE_MS = 30_000;

const stack = new PrivateStack(200);
let harness: CollectorHarness;
let collector: CollectorProcess;
let workers = '0';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(() => stack.up(), 300_000);
afterAll(() => stack.destroy());

beforeEach(async () => {
  harness = new CollectorHarness(stack.env, { INGEST_WORKERS: workers });
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

/** Where a fault began: the device's points in InfluxDB by then. */
type FaultMark = { stored: number };

/**
 * Streams from the device and places fault `round` once the broker has acknowledged
 * `shares[round]` of MESSAGES (by progress, not by time); publishing goes on past MESSAGES while
 * faults are still to come (a restart may outlast the stream). Every fault must land mid-stream:
 * some messages stored before it, and some acknowledged only after it began (so stored after it).
 * Then every message published is stored once.
 */
async function streamWithFault(
  deviceId: string,
  shares: number[],
  fault: (round: number, gate: Gate) => Promise<void>,
  {
    publisherReconnectMs = 300,
    ...options
  }: { publisherReconnectMs?: number } & Pick<StreamOptions, 'resendUnrouted' | 'onUnrouted'> = {},
): Promise<void> {
  const publisher = await harness.publisher(publisherReconnectMs);
  const gate = new Gate();
  let acknowledged = 0;
  let published = 0;
  let end = Number.POSITIVE_INFINITY;
  const stream = publishStream(publisher, deviceId, Number.MAX_SAFE_INTEGER, PER_SECOND, {
    ...options,
    gate,
    onAck: () => {
      acknowledged += 1;
    },
    // Asked before each message: stop once it would be message `end`.
    stop: () => {
      if (published >= end) return true;
      published += 1;
      return false;
    },
  });
  const marks: FaultMark[] = [];
  for (const [round, share] of shares.entries()) {
    await expect
      .poll(() => acknowledged, { timeout: 60_000, message: `${share * 100} % of the stream acknowledged` })
      .toBeGreaterThanOrEqual(share * MESSAGES);
    marks.push({ stored: (await harness.points(deviceId)).length });
    if (round === shares.length - 1) end = Math.max(MESSAGES, published + TAIL);
    await fault(round, gate);
  }
  // Every message published was acknowledged.
  expect(await stream).toEqual(Array.from({ length: published }, (_, seq) => seq));
  expect(published).toBeGreaterThanOrEqual(MESSAGES);
  // Each fault began after some points were stored; the stream's tail (published after the last
  // fault began) is what leaves messages to store after it.
  for (const [round, mark] of marks.entries()) {
    expect(mark.stored, `points stored before fault ${round + 1}`).toBeGreaterThan(0);
  }
  await expectAllStored(deviceId, published);
}

// Once with each message decoded on the event loop, once in a decode worker thread (INGEST_WORKERS).
for (const mode of ['0', '1']) {
  // Generous: the suite shares two cores with the other test files; g alone takes 20 s, beside
  // them up to 250 s.
  describe.sequential(`no acknowledged message is lost (INGEST_WORKERS=${mode})`, {
    timeout: 480_000,
  }, () => {
    beforeAll(() => {
      workers = mode;
    });

    it('a. when the collector is killed with SIGKILL mid-stream and restarted with the same id, twice', async () => {
      await streamWithFault(`a-${harness.run}`, [0.2, 0.6], async () => {
        await collector.stop('SIGKILL');
        await sleep(1000);
        await collector.start();
      });
    });

    for (const server of ['influxdb', 'minio', 'postgres'] as const) {
      it(`${{ influxdb: 'b', minio: 'c', postgres: 'd' }[server]}. when ${server} is stopped for 30 s mid-stream`, async () => {
        const errorsBefore = await collector.metric('iot_collector_store_errors_total');
        await streamWithFault(`${server}-${harness.run}`, [0.2], async () => {
          stack.signal('stop', server);
          await sleep(OUTAGE_MS);
          stack.signal('start', server);
        });
        // This outage, not an earlier case's, made the collector's writes fail.
        expect(await collector.metric('iot_collector_store_errors_total')).toBeGreaterThan(errorsBefore);
      });
    }

    // Devices come back first after a broker restart: the collector is frozen (SIGSTOP) until the
    // broker has answered more of the device's messages. Mosquitto 2.0 (2.0.21 here, 2.0.22 in the
    // chart: persist__subs_save() writes no shared subscription) restores sessions without their
    // shared subscriptions, so until the collector subscribes again it answers PUBACK 0x10 "No
    // matching subscribers" and drops the message; a device resends those (MQTT 5 says so, 3.1.1
    // cannot), and those the session queued before the restart survive SIGTERM and, restarted with
    // the crash-safe settings, SIGKILL. Publishing pauses around the SIGKILL: even crash-safe,
    // Mosquitto sends a PUBACK before it saves the message, so a kill in between loses it.
    it('e. when Mosquitto is stopped with SIGTERM and restarted, and when it is killed with SIGKILL, devices reconnecting first', async () => {
      const unrouted: number[] = [];
      // The second round's share is reached only once the collector takes the stream again.
      await streamWithFault(
        `e-${harness.run}`,
        [0.2, 0.5],
        async (round, gate) => {
          const action = round === 0 ? 'stop' : 'kill';
          collector.freeze(true);
          if (action === 'kill') {
            gate.close();
            await sleep(500);
          }
          stack.signal(action, 'mosquitto');
          await sleep(1000);
          stack.signal('start', 'mosquitto', { IOT_STACK_MOSQUITTO_CRASH_SAFE: '1' });
          gate.open();
          const before = unrouted.length;
          // The device is back and publishing while the collector is not: the broker routes nothing.
          await expect.poll(() => unrouted.length, { timeout: 20_000 }).toBeGreaterThan(before + 100);
          collector.freeze(false);
          await expect
            .poll(() => collector.metric('iot_collector_mqtt_connected'), { timeout: 20_000 })
            .toBe(1);
        },
        { publisherReconnectMs: 200, resendUnrouted: true, onUnrouted: (seq) => unrouted.push(seq) },
      );
    });

    it('f. with two collectors in one group, through a rolling restart (SIGTERM) and a scale-down from two to one with the drain step', async () => {
      const secondId = `test-${harness.run}-1`;
      const second = new CollectorProcess(harness.env({ MQTT_CLIENT_ID: secondId }), 18_401);
      await second.start();
      // A rolling restart, one member after the other, then the scale-down.
      await streamWithFault(`f-${harness.run}`, [0.2, 0.4, 0.6], async (round) => {
        const member = [collector, second][round];
        if (member) {
          expect(await member.stop('SIGTERM')).toBe(0);
          await member.start();
          return;
        }
        // Scale-down: the second member leaves; the broker keeps dealing it a share until drained.
        expect(await second.stop('SIGTERM')).toBe(0);
        await sleep(2000);
        expect(await new CollectorProcess(harness.env({ MQTT_CLIENT_ID: secondId }), 18_402).drain()).toBe(0);
      });
      expect(await sessionPresent(secondId)).toBe(false);
    });

    it('g. with 1,000 hostile messages mixed into 10,000 good ones: all good stored, all bad quarantined by reason, memory bounded', async () => {
      const good = `g-good-${harness.run}`;
      const bad = `g-bad-${harness.run}`;
      const hostile: [Buffer, string][] = [];
      const add = (n: number, reason: string, make: (i: number) => Buffer) => {
        for (let i = 0; i < n; i += 1) hostile.push([make(i), reason]);
      };
      add(10, 'payload_too_large', () => Buffer.alloc(1024 * 1024, 0x41));
      add(198, 'invalid_utf8', () => Buffer.concat([Buffer.from([0xff]), randomBytes(63)]));
      add(198, 'not_an_object', () => Buffer.from(`${'['.repeat(50_000)}${']'.repeat(50_000)}`));
      add(198, 'device_mismatch', (i) => Buffer.from(telemetry('someone-else', i)));
      add(198, 'timestamp_in_future', (i) =>
        Buffer.from(`{"timestamp":"2099-01-01T00:00:00Z","temperature":${i}}`),
      );
      add(198, 'invalid_schema', () => Buffer.from('{"temperature":"NaN"}'));

      // A tighter window than the default, so the bound is visible: reading pauses at 16 MiB unacknowledged.
      await collector.stop('SIGTERM');
      collector = new CollectorProcess(
        harness.env({ INGEST_MAX_UNACKED_BYTES: String(16 * 1024 * 1024) }),
        18_400,
      );
      await collector.start();
      let peakUnacknowledged = 0;
      const sampler = setInterval(async () => {
        const bytes = await collector.metric('iot_collector_unacknowledged_bytes').catch(() => 0);
        peakUnacknowledged = Math.max(peakUnacknowledged, bytes);
      }, 50);

      const publisher = await harness.publisher();
      const sends: Promise<unknown>[] = [];
      for (let seq = 0; seq < 10_000; seq += 1) {
        sends.push(publisher.publishAsync(`iot/${good}/telemetry`, telemetry(good, seq), { qos: 1 }));
        if (seq % 10 === 5) {
          const [payload] = hostile[seq / 10 - 0.5] ?? [];
          if (payload) sends.push(publisher.publishAsync(`iot/${bad}/telemetry`, payload, { qos: 1 }));
        }
        if (sends.length >= 500) await Promise.all(sends.splice(0));
      }
      await Promise.all(sends);

      await expectAllStored(good, 10_000);
      clearInterval(sampler);
      // Reading stops at the bound; the message being read when it is reached may add up to 1 MiB.
      expect(peakUnacknowledged).toBeGreaterThan(0);
      expect(peakUnacknowledged).toBeLessThanOrEqual(17 * 1024 * 1024);
      await expect
        .poll(() => harness.archivedCount('quarantine', bad), { timeout: 60_000 })
        .toBe(hostile.length);
      const reasons = new Map<string, number>();
      for (const record of await harness.archived('quarantine', bad)) {
        reasons.set(record.header.reason ?? '', (reasons.get(record.header.reason ?? '') ?? 0) + 1);
      }
      expect(Object.fromEntries(reasons)).toEqual({
        payload_too_large: 10,
        invalid_utf8: 198,
        not_an_object: 198,
        device_mismatch: 198,
        timestamp_in_future: 198,
        invalid_schema: 198,
      });
      expect(await harness.points(bad)).toEqual([]);
      // What the process holds (heap and buffers) stays small; RSS, which also counts the allocator's
      // and V8's slack, only has to show no runaway growth.
      const [rss = 0, heap = 0, external = 0] = await Promise.all(
        ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes'].map(
          (m) => collector.metric(m),
        ),
      );
      expect(heap + external, `heap used ${heap}, external ${external}`).toBeLessThan(256 * 1024 * 1024);
      expect(rss).toBeLessThan(512 * 1024 * 1024);
    });
  });
}

/** Whether the broker still holds a session for the client id (connecting leaves none behind). */
async function sessionPresent(clientId: string): Promise<boolean> {
  const client = mqtt.connect(harness.config.MQTT_URL, {
    ...stackMqttLogin(stack.env, 'collector'),
    clientId,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 0 },
  });
  const connack = await new Promise<{ sessionPresent: boolean }>((resolve) =>
    client.once('connect', resolve),
  );
  await client.endAsync();
  return connack.sessionPresent;
}
