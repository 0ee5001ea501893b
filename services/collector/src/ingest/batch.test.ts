import { decodeDeviceMessage, parseDeviceTopic } from '@iot-meter/common';
import { describe, expect, it } from 'vitest';
import type { InboundMessage } from '../mqtt/session-consumer.js';
import { Batch } from './batch.js';
import { ByteArena } from './byte-arena.js';

const receivedAtMs = Date.parse('2026-02-12T16:00:01Z');
const options = { receivedAtMs, maxPayloadBytes: 1024, maxFutureSkewMs: 60_000 };

function add(batch: Batch, topic: string, payload: string, overrides: Partial<InboundMessage> = {}) {
  const message: InboundMessage = {
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    dup: false,
    retain: false,
    packetId: batch.size + 1,
    receivedAtMs,
    userProperties: undefined,
    ...overrides,
  };
  const parsed = parseDeviceTopic(topic);
  batch.add(message, () => {}, parsed, decodeDeviceMessage(topic, message.payload, options, parsed));
  // The consumer's buffer is reused after the call: the batch must have copied it.
  message.payload.fill(0);
}

function sampleBatch() {
  const batch = new Batch('b-1', receivedAtMs);
  add(batch, 'iot/d1/telemetry', '{"timestamp":"2026-02-12T16:00:00Z","temperature":21.5,"unit":"C"}');
  add(batch, 'sensors/x', '{"temperature":1}', { qos: 0, packetId: undefined, retain: true });
  add(batch, 'iot/d2/telemetry', '{"timestamp":"2026-02-12T16:00:00.5Z","a":1,"b":2}', { dup: true });
  add(batch, 'iot/d1/status', 'offline');
  add(batch, 'iot/d1/telemetry', '{"timestamp":"2026-02-12T16:00:00.25Z","temperature":22}');
  return batch;
}

describe('Batch', () => {
  it("keeps each message's bytes, topic, flags and verdict by index", () => {
    const batch = sampleBatch();
    expect(batch.size).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => batch.topicOf(i))).toEqual([
      'iot/d1/telemetry',
      'sensors/x',
      'iot/d2/telemetry',
      'iot/d1/status',
      'iot/d1/telemetry',
    ]);
    expect(batch.payloadOf(3).toString()).toBe('offline');
    expect(batch.payloadOf(1).toString()).toBe('{"temperature":1}');
    expect(
      [0, 1, 2].map((i) => [batch.packetIdOf(i), batch.qosOf(i), batch.dupOf(i), batch.retainOf(i)]),
    ).toEqual([
      [1, 1, false, false],
      [null, 0, false, true],
      [3, 1, true, false],
    ]);
    expect([0, 1, 2, 3, 4].map((i) => [batch.deviceOf(i), batch.kindOf(i), batch.pointsOf(i)])).toEqual([
      ['d1', 'telemetry', 1],
      ['', undefined, 0],
      ['d2', 'telemetry', 2],
      ['d1', 'status', 0],
      ['d1', 'telemetry', 1],
    ]);
    expect(batch.rejections).toEqual(
      new Map([[1, { reason: 'unknown_topic', detail: 'unexpected topic sensors/x' }]]),
    );
    // The telemetry after the Last Will says the device is back.
    expect(batch.activity.get('d1')?.status).toEqual({ connectionStatus: 'online', atMs: receivedAtMs });
    expect([...batch.activity.keys()]).toEqual(['d1', 'd2']);
  });

  it('gives the lines of any set of messages, contiguous or not', () => {
    const batch = sampleBatch();
    const d1 = 'iot_telemetry,device_id=d1,metric=temperature';
    const lines = [
      `${d1},unit=C value=21.5 1770912000000000000`,
      'iot_telemetry,device_id=d2,metric=a value=1 1770912000500000000',
      'iot_telemetry,device_id=d2,metric=b value=2 1770912000500000000',
      `${d1} value=22 1770912000250000000`,
    ];
    expect(batch.linesOf([0, 2, 4]).toString()).toBe(`${lines.join('\n')}\n`);
    expect(batch.linesOf([0, 4]).toString()).toBe(`${lines[0]}\n${lines[3]}\n`);
    expect(batch.linesOf([2]).toString()).toBe(`${lines[1]}\n${lines[2]}\n`);
  });

  it('quarantines a message InfluxDB refused: no longer kept, its points not counted', () => {
    const batch = sampleBatch();
    batch.reject(2, 'timeseries_rejected', 'influxdb 400: bad');
    expect([batch.kindOf(2), batch.pointsOf(2)]).toEqual([undefined, 0]);
    expect(batch.rejections.get(2)).toEqual({ reason: 'timeseries_rejected', detail: 'influxdb 400: bad' });
  });
});

describe('ByteArena', () => {
  it('grows past its first size and keeps what was written', () => {
    const arena = new ByteArena(4);
    const records: [number, number, Buffer][] = [];
    for (let i = 0; i < 100; i += 1) {
      const start = arena.length;
      arena.appendString(`é${i}`);
      arena.append(Buffer.from([i]));
      const end = arena.appendByte(0x0a);
      records.push([start, end, Buffer.concat([Buffer.from(`é${i}`), Buffer.from([i, 0x0a])])]);
    }
    for (const [start, end, expected] of records) expect(arena.view(start, end)).toEqual(expected);
    expect(arena.length).toBe(records.reduce((sum, [, , bytes]) => sum + bytes.length, 0));
  });
});
