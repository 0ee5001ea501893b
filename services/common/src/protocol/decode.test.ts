import { describe, expect, it } from 'vitest';
import { type DecodeResult, decodeDeviceMessage, REJECT_REASONS, type RejectReason } from './decode.js';
import { telemetryV2Schema } from './payloads.js';
import { formatTimestampNs, parseTimestampNs } from './timestamps.js';

const receivedAtMs = Date.parse('2026-02-12T16:00:05.000Z');
const options = { receivedAtMs, maxPayloadBytes: 1024, maxFutureSkewMs: 5 * 60_000 };
const ns = (iso: string) => parseTimestampNs(iso) ?? -1n;

function decode(topic: string, payload: string | Uint8Array): DecodeResult {
  return decodeDeviceMessage(topic, typeof payload === 'string' ? Buffer.from(payload) : payload, options);
}

function rejection(topic: string, payload: string | Uint8Array): [RejectReason, string] | undefined {
  const result = decode(topic, payload);
  return result.ok ? undefined : [result.reason, result.detail];
}

describe('decodeDeviceMessage', () => {
  it("turns the original MQTT example (architecture §8) into one sample at the message's own time", () => {
    const result = decode(
      'iot/device-001/telemetry',
      '{"timestamp":"2026-02-12T16:00:00.000Z","device_id":"device-001","temperature":23.5,"unit":"celsius"}',
    );
    expect(result).toEqual({
      ok: true,
      message: {
        kind: 'telemetry',
        deviceId: 'device-001',
        version: 1,
        sentAtNs: ns('2026-02-12T16:00:00Z'),
        samples: [
          { metric: 'temperature', value: 23.5, unit: 'celsius', timeNs: ns('2026-02-12T16:00:00Z') },
        ],
      },
    });
  });

  it('stamps a v1 message without a timestamp with the receive time', () => {
    const result = decode('iot/d1/telemetry', '{"temperature":21,"humidity":40.5}');
    expect(result.ok && result.message.kind === 'telemetry' && result.message.samples).toEqual([
      { metric: 'temperature', value: 21, timeNs: ns('2026-02-12T16:00:05Z') },
      { metric: 'humidity', value: 40.5, timeNs: ns('2026-02-12T16:00:05Z') },
    ]);
  });

  it('turns a v2 message of 20 measurements into 20 samples with their own times', () => {
    const measurements = Array.from({ length: 20 }, (_, i) => ({
      ts: `2026-02-12T16:00:${String(i).padStart(2, '0')}.5Z`,
      type: i % 2 === 0 ? 'voltage_dc' : 'current_dc',
      val: 700 + i,
      unit: i % 2 === 0 ? 'V' : 'A',
    }));
    const body = {
      v: 2,
      device_id: 'dc-1',
      ts: '2026-02-12T16:00:20Z',
      seq: 142,
      msg_type: 'telemetry',
      measurements,
    };
    const result = decodeDeviceMessage('iot/dc-1/telemetry', Buffer.from(JSON.stringify(body)), {
      ...options,
      maxPayloadBytes: 256 * 1024,
    });
    if (!result.ok || result.message.kind !== 'telemetry') throw new Error('expected telemetry');
    expect(result.message.seq).toBe(142);
    expect(result.message.samples).toHaveLength(20);
    expect(result.message.samples[19]).toEqual({
      metric: 'current_dc',
      value: 719,
      unit: 'A',
      timeNs: ns('2026-02-12T16:00:19.5Z'),
    });
    expect(new Set(result.message.samples.map((s) => s.timeNs)).size).toBe(20);
  });

  it('decodes hello, status (JSON and bare Last Will) and command acks', () => {
    expect(
      decode(
        'iot/d1/hello',
        '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":7,"msg_type":"hello","fw_version":"1.4.2","uptime_s":3600,"broker_connections":1,"buf_usage_pct":0}',
      ),
    ).toEqual({
      ok: true,
      message: {
        kind: 'hello',
        deviceId: 'd1',
        version: 2,
        seq: 7,
        sentAtNs: ns('2026-02-12T16:00:00Z'),
        fwVersion: '1.4.2',
        uptimeS: 3600,
      },
    });
    expect(
      decode('iot/d1/status', '{"v":2,"device_id":"d1","status":"offline","ts":"2026-02-12T16:00:01Z"}'),
    ).toEqual({
      ok: true,
      message: {
        kind: 'status',
        deviceId: 'd1',
        version: 2,
        status: 'offline',
        sentAtNs: ns('2026-02-12T16:00:01Z'),
      },
    });
    expect(decode('iot/d1/status', 'offline')).toEqual({
      ok: true,
      message: {
        kind: 'status',
        deviceId: 'd1',
        version: 1,
        status: 'offline',
        sentAtNs: ns('2026-02-12T16:00:05Z'),
      },
    });
    const ack = decode(
      'iot/d1/command/ack',
      '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":8,"msg_type":"command_ack","cmd_id":"c-1","result":"accepted"}',
    );
    expect(ack.ok && ack.message).toMatchObject({
      kind: 'command_ack',
      cmdId: 'c-1',
      result: 'accepted',
      seq: 8,
    });
  });

  const t = 'iot/d1/telemetry';
  const cases: [string, string, string | Uint8Array, RejectReason, string][] = [
    ['a topic outside the contract', 'iot/d1/other', '{}', 'unknown_topic', 'unexpected topic iot/d1/other'],
    [
      'a bad device id in the topic',
      'iot/-bad/telemetry',
      '{}',
      'unknown_topic',
      'unexpected topic iot/-bad/telemetry',
    ],
    ['an oversized payload', t, `{"a":"${'x'.repeat(1100)}"}`, 'payload_too_large', '1108 bytes, limit 1024'],
    [
      'bytes that are not UTF-8',
      t,
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      'invalid_utf8',
      'payload is not valid UTF-8',
    ],
    ['text that is not JSON', t, 'temperature=23.5', 'invalid_json', ''],
    ['NaN written as a JSON literal', t, '{"temperature":NaN}', 'invalid_json', ''],
    ['a JSON array', t, '[1,2]', 'not_an_object', 'payload must be a JSON object'],
    [
      'a number too large for a double',
      t,
      '{"temperature":1e999}',
      'non_finite_number',
      'temperature is not a finite number',
    ],
    [
      'a number of 300 digits with a one-digit exponent',
      t,
      `{"temperature":${'9'.repeat(300)}e9}`,
      'non_finite_number',
      'temperature is not a finite number',
    ],
    [
      'a number of 211 digits with a two-digit exponent',
      t,
      `{"temperature":1${'0'.repeat(210)}e99}`,
      'non_finite_number',
      'temperature is not a finite number',
    ],
    [
      'a number of 250 digits, a fraction and an exponent',
      t,
      `{"temperature":${'9'.repeat(250)}.${'9'.repeat(100)}e60}`,
      'non_finite_number',
      'temperature is not a finite number',
    ],
    [
      'a number of 309 digits',
      t,
      `{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":1,"msg_type":"telemetry","measurements":[{"type":"t","val":${'9'.repeat(309)}}]}`,
      'non_finite_number',
      'measurements.0.val is not a finite number',
    ],
    ['v3', t, '{"v":3,"device_id":"d1"}', 'unknown_version', 'unsupported version 3'],
    ['a v1 hello', 'iot/d1/hello', '{"fw":"1"}', 'unknown_version', 'a hello message must be a v2 envelope'],
    ['NaN as a string', t, '{"temperature":"NaN"}', 'invalid_schema', 'temperature: expected a number'],
    [
      'a nested object in v1',
      t,
      '{"temperature":{"c":1}}',
      'invalid_schema',
      'temperature: expected a number',
    ],
    [
      'a numeric unit',
      t,
      '{"temperature":1,"unit":5}',
      'invalid_schema',
      'unit: expected a string of at most 32 characters',
    ],
    [
      'a v2 measurement without val',
      t,
      '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":1,"msg_type":"telemetry","measurements":[{"type":"t"}]}',
      'invalid_schema',
      'measurements.0.val: Invalid input: expected number, received undefined',
    ],
    [
      'a negative seq',
      t,
      '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":-1,"msg_type":"telemetry","measurements":[{"type":"t","val":1}]}',
      'invalid_schema',
      'seq: Too small: expected number to be >=0',
    ],
    [
      'an empty measurement list',
      t,
      '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":1,"msg_type":"telemetry","measurements":[]}',
      'invalid_schema',
      'measurements: Too small: expected array to have >=1 items',
    ],
    [
      'another device id in the payload',
      t,
      '{"device_id":"d2","temperature":1}',
      'device_mismatch',
      `payload device_id "d2" differs from the topic's`,
    ],
    [
      'a hello on the telemetry topic',
      t,
      '{"v":2,"device_id":"d1","ts":"2026-02-12T16:00:00Z","seq":1,"msg_type":"hello","fw_version":"1","uptime_s":1}',
      'topic_mismatch',
      'msg_type "hello" on a telemetry topic',
    ],
    [
      'a date that does not exist',
      t,
      '{"timestamp":"2026-02-30T10:00:00Z","temperature":1}',
      'timestamp_invalid',
      'timestamp: "2026-02-30T10:00:00Z"',
    ],
    [
      'a time before 1970',
      t,
      '{"timestamp":"1969-12-31T23:59:59Z","temperature":1}',
      'timestamp_invalid',
      'timestamp: "1969-12-31T23:59:59Z"',
    ],
    [
      'epoch seconds instead of a date',
      t,
      '{"timestamp":1770912000,"temperature":1}',
      'invalid_schema',
      'timestamp: expected an ISO 8601 string',
    ],
    [
      'a time far in the future',
      t,
      '{"timestamp":"2027-01-01T00:00:00Z","temperature":1}',
      'timestamp_in_future',
      'timestamp: 2027-01-01T00:00:00Z is ahead of the receive time',
    ],
    [
      'only reserved keys',
      t,
      '{"device_id":"d1","unit":"C"}',
      'no_measurements',
      'no numeric measurement fields',
    ],
  ];

  it.each(cases)('quarantines %s', (_name, topic, payload, reason, detail) => {
    const result = rejection(topic, payload);
    expect(result?.[0]).toBe(reason);
    if (detail) expect(result?.[1]).toBe(detail);
  });

  it('has a case for every reason code', () => {
    expect(new Set(cases.map((c) => c[3]))).toEqual(new Set(REJECT_REASONS));
  });

  it('survives hostile documents', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(decodeDeviceMessage(t, Buffer.from(deep), { ...options, maxPayloadBytes: 1 << 20 })).toMatchObject(
      {
        ok: false,
        reason: 'not_an_object',
      },
    );
    const proto = decode(t, '{"__proto__":{"polluted":1},"temperature":1}');
    expect(proto).toMatchObject({
      ok: false,
      reason: 'invalid_schema',
      detail: '__proto__: expected a number',
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('v2 telemetry validation', () => {
  // The hand-written check must accept exactly what the schema accepts: each field of a valid
  // message is replaced by values on both sides of its rules, and the verdicts compared.
  const valid = {
    v: 2,
    device_id: 'd1',
    ts: '2026-02-12T16:00:00Z',
    seq: 1,
    msg_type: 'telemetry',
    measurements: [{ ts: '2026-02-12T16:00:00.5Z', type: 'voltage_dc', val: 700, unit: 'V' }],
  };
  const [measurement] = valid.measurements;
  const strings = (max: number) => ['', 'x'.repeat(max), 'x'.repeat(max + 1), 5, null, true, {}, []];
  const variants: unknown[] = [
    ...strings(64).map((ts) => ({ ...valid, ts })),
    ...[0, 2 ** 32 - 1, 2 ** 32, -1, 1.5, '1', null].map((seq) => ({ ...valid, seq })),
    ...[[], Array(200).fill(measurement), Array(201).fill(measurement), {}, 'x', [null], [[]], [1]].map(
      (measurements) => ({ ...valid, measurements }),
    ),
    ...[
      { ts: 'x'.repeat(65) },
      { ts: 5 },
      { type: 'bad name' },
      { type: 'x'.repeat(65) },
      { type: 7 },
      { val: '1' },
      { val: null },
      { unit: '' },
      { unit: 'x'.repeat(32) },
      { unit: 'x'.repeat(33) },
      { unit: 3 },
      { extra: 'kept out' },
    ].map((change) => ({ ...valid, measurements: [{ ...measurement, ...change }] })),
    { ...valid, measurements: [{ type: 't', val: 1 }] },
    { ...valid, extra: { nested: true } },
  ];

  it.each(variants.map((v, i) => [i, v]))('agrees with the schema on variant %i', (_i, variant) => {
    const result = decodeDeviceMessage('iot/d1/telemetry', Buffer.from(JSON.stringify(variant)), {
      ...options,
      maxPayloadBytes: 1 << 20,
    });
    const schema = telemetryV2Schema.safeParse(variant);
    // Past the schema, a time that is no date is still refused, for its own reason.
    const reason = result.ok ? undefined : result.reason;
    if (schema.success) expect(reason === undefined || reason === 'timestamp_invalid').toBe(true);
    else expect(reason).toBe('invalid_schema');
  });

  it('lets the schema name what is wrong', () => {
    const result = decode(
      'iot/d1/telemetry',
      JSON.stringify({ ...valid, measurements: [{ ...measurement, unit: 'x'.repeat(33) }] }),
    );
    expect(result).toMatchObject({
      ok: false,
      detail: 'measurements.0.unit: Too big: expected string to have <=32 characters',
    });
  });
});

describe('timestamps', () => {
  it('keeps nanoseconds and honours zone offsets', () => {
    expect(parseTimestampNs('2026-02-12T16:00:00.123456789Z')).toBe(1770912000123456789n);
    expect(parseTimestampNs('2026-02-12T17:30:00+01:30')).toBe(1770912000000000000n);
    expect(parseTimestampNs('2026-02-12T16:00:00')).toBe(1770912000000000000n);
    // Within the second parsed last (the shortcut) and out of it.
    expect(parseTimestampNs('2026-02-12T16:00:00.042Z')).toBe(1770912000042000000n);
    expect(parseTimestampNs('2026-02-12T16:00:00.04xZ')).toBeUndefined();
    expect(parseTimestampNs('2026-02-12T16:00:00.5Z')).toBe(1770912000500000000n);
    expect(parseTimestampNs('2026-02-12T16:00:01.999Z')).toBe(1770912001999000000n);
    expect(parseTimestampNs('2026-02-30T16:00:00.000Z')).toBeUndefined();
    expect(formatTimestampNs(1770912000123456789n)).toBe('2026-02-12T16:00:00.123456789Z');
    expect(formatTimestampNs(1770912000000000000n)).toBe('2026-02-12T16:00:00Z');
    expect(parseTimestampNs('2026-02-12T24:00:00Z')).toBeUndefined();
    expect(parseTimestampNs('yesterday')).toBeUndefined();
  });

  it('gives the same answers when one calendar second repeats (the parser remembers the last)', () => {
    expect(parseTimestampNs('2026-02-12T16:00:00.5Z')).toBe(1770912000500000000n);
    expect(parseTimestampNs('2026-02-12T16:00:00.000001Z')).toBe(1770912000000001000n);
    expect(parseTimestampNs('2026-02-12T16:00:00.999+01:00')).toBe(1770908400999000000n);
    expect(parseTimestampNs('2026-02-12T16:00:00-00:30')).toBe(1770913800000000000n);
    expect(parseTimestampNs('2026-02-30T16:00:00Z')).toBeUndefined();
    expect(parseTimestampNs('2026-02-30T16:00:00.1Z')).toBeUndefined();
    expect(parseTimestampNs('1969-12-31T23:59:59.25Z')).toBe(-750000000n);
  });
});
