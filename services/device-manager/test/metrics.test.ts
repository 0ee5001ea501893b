import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
const device = `metrics-${randomBytes(4).toString('hex')}`;
// Two minutes of 1 Hz data, ten minutes ago, on whole minutes: temperature = i °C, humidity 50/51.
const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

const lines = Array.from({ length: 120 }, (_, i) => [
  `iot_telemetry,device_id=${device},metric=temperature,unit=Cel value=${i} ${base + i * 1000}`,
  `iot_telemetry,device_id=${device},metric=humidity value=${50 + (i % 2)} ${base + i * 1000}`,
]).flat();

beforeAll(async () => {
  await api.start();
  await api.call('POST', '/api/devices', { json: { device_id: device, device_name: 'Metrics' } });
  await api.writePoints(lines);
});
afterAll(() => api.dispose());

const range = `start=${iso(base)}&stop=${iso(base + 120_000)}`;

describe('metrics', () => {
  it('returns raw points ordered by time across metrics, with units', async () => {
    const r = await api.call('GET', `/api/devices/${device}/metrics?${range}`);
    expect(r.status).toBe(200);
    const points = r.json as { time: string; metric: string; value: number; unit?: string }[];
    expect(points).toHaveLength(240);
    expect(points.slice(0, 3)).toEqual([
      { time: iso(base), device_id: device, metric: 'humidity', value: 50 },
      { time: iso(base), device_id: device, metric: 'temperature', value: 0, unit: 'Cel' },
      { time: iso(base + 1000), device_id: device, metric: 'humidity', value: 51 },
    ]);
    const only = await api.call('GET', `/api/devices/${device}/metrics?${range}&metric=temperature`);
    expect((only.json as { value: number }[]).map((p) => p.value)).toEqual(
      Array.from({ length: 120 }, (_, i) => i),
    );
  });

  it('keeps the original API’s default and relative ranges', async () => {
    const lastHour = await api.call('GET', `/api/devices/${device}/metrics`);
    expect((lastHour.json as unknown[]).length).toBe(240);
    const day = await api.call('GET', `/api/devices/${device}/metrics?start=-24h&stop=now()`);
    expect((day.json as unknown[]).length).toBe(240);
    const recent = await api.call('GET', `/api/devices/${device}/metrics?start=-5m`);
    expect(recent.json).toEqual([]);
  });

  it('aggregates per window with each function', async () => {
    const at = async (fn: string) =>
      (
        (
          await api.call(
            'GET',
            `/api/devices/${device}/metrics?${range}&metric=temperature&aggregate=${fn}&every=1m`,
          )
        ).json as { time: string; value: number }[]
      ).map((p) => [p.time, p.value]);
    const windows = [iso(base + 60_000), iso(base + 120_000)];
    expect(await at('mean')).toEqual([
      [windows[0], 29.5],
      [windows[1], 89.5],
    ]);
    expect(await at('min')).toEqual([
      [windows[0], 0],
      [windows[1], 60],
    ]);
    expect(await at('max')).toEqual([
      [windows[0], 59],
      [windows[1], 119],
    ]);
    expect(await at('sum')).toEqual([
      [windows[0], 1770],
      [windows[1], 5370],
    ]);
    expect(await at('count')).toEqual([
      [windows[0], 60],
      [windows[1], 60],
    ]);
    expect(await at('last')).toEqual([
      [windows[0], 59],
      [windows[1], 119],
    ]);
  });

  it('gives each metric’s latest value', async () => {
    const r = await api.call('GET', `/api/devices/${device}/latest`);
    expect(r.json).toEqual([
      { metric: 'humidity', value: 51, time: iso(base + 119_000) },
      { metric: 'temperature', value: 119, time: iso(base + 119_000), unit: 'Cel' },
    ]);
  });

  it('refuses an answer over the point cap instead of cutting it', async () => {
    const capped = new ApiHarness(stackEnv);
    await capped.start({ API_METRICS_MAX_POINTS: 100 });
    try {
      await capped.call('POST', '/api/devices', { json: { device_id: device, device_name: 'Metrics' } });
      await capped.writePoints(lines);
      const over = await capped.call('GET', `/api/devices/${device}/metrics?${range}`);
      expect(over.status).toBe(422);
      expect(over.json).toMatchObject({ code: 'too_many_points' });
      const aggregated = await capped.call('GET', `/api/devices/${device}/metrics?${range}&aggregate=mean`);
      expect((aggregated.json as unknown[]).length).toBe(4);
    } finally {
      await capped.dispose();
    }
  });

  it('rejects bad and hostile parameters, and the data stays', async () => {
    const cases: [string, number, string, string?][] = [
      ['start=yesterday', 400, 'invalid_request', 'start'],
      ['stop=2026-13-01T00:00:00Z', 400, 'invalid_request', 'stop'],
      [`start=${iso(base + 60_000)}&stop=${iso(base)}`, 400, 'invalid_request', 'start'],
      ['every=1m', 400, 'invalid_request', 'every'],
      ['aggregate=median', 400, 'invalid_request', 'aggregate'],
      ['aggregate=mean&every=-1m', 400, 'invalid_request', 'every'],
      [
        `metric=${encodeURIComponent('temperature") |> drop(columns: ["_value"]) //')}`,
        400,
        'invalid_request',
        'metric',
      ],
      [`start=${encodeURIComponent('-1h) |> yield(name: "x"')}`, 400, 'invalid_request', 'start'],
      [`metric=${encodeURIComponent('x" or true or "')}`, 400, 'invalid_request', 'metric'],
    ];
    for (const [query, status, code, field] of cases) {
      const r = await api.call('GET', `/api/devices/${device}/metrics?${query}`);
      expect({ query, status: r.status, json: r.json }).toMatchObject({
        query,
        status,
        json: { code, field },
      });
    }
    const hostileDevice = await api.call('GET', `/api/devices/${encodeURIComponent('x" or true')}/metrics`);
    expect(hostileDevice.json).toMatchObject({ code: 'invalid_request', field: 'device_id' });
    expect((await api.call('GET', '/api/devices/unknown-device/metrics')).json).toMatchObject({
      code: 'device_not_found',
    });
    const after = await api.call('GET', `/api/devices/${device}/metrics?${range}`);
    expect((after.json as unknown[]).length).toBe(240);
  });
});
