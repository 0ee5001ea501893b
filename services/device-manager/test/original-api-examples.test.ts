import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { serve } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, ApiHarness } from './api-harness.js';

// The original API's curl examples (architecture §8), byte for byte, run by curl against the API on
// a real port; the only change is the authorization header every /api request now needs.
const EXAMPLES = [
  `curl http://localhost:8080/api/devices`,
  `curl http://localhost:8080/api/devices/device-001`,
  `curl -X POST http://localhost:8080/api/devices \\
  -H "Content-Type: application/json" \\
  -d '{
    "device_id": "device-004",
    "device_name": "New Sensor",
    "device_type": "temperature",
    "location": "Building C",
    "status": "active",
    "metadata": {"sampling_rate": "5s"}
  }'`,
  `curl -X PUT http://localhost:8080/api/devices/device-004 \\
  -H "Content-Type: application/json" \\
  -d '{
    "device_name": "Updated Sensor",
    "location": "Building D"
  }'`,
  `curl -X DELETE http://localhost:8080/api/devices/device-004`,
  `curl -X POST http://localhost:8080/api/devices/device-001/heartbeat`,
  `curl http://localhost:8080/api/devices/device-001/metrics`,
  `curl "http://localhost:8080/api/devices/device-001/metrics?start=-24h&stop=now()"`,
  `curl "http://localhost:8080/api/devices/device-001/metrics?metric=temperature"`,
  `curl http://localhost:8080/api/devices/device-001/raw-data`,
  `curl http://localhost:8080/api/devices/device-001/alerts`,
  `curl "http://localhost:8080/api/devices/device-001/alerts?acknowledged=false"`,
  `curl -X POST http://localhost:8080/api/devices/device-001/alerts \\
  -H "Content-Type: application/json" \\
  -d '{
    "alert_type": "high_temperature",
    "severity": "warning",
    "message": "Temperature exceeded threshold"
  }'`,
  `curl -X POST http://localhost:8080/api/alerts/1/acknowledge`,
  `curl http://localhost:8080/api/stats`,
];

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
const NOW = Math.floor(Date.now() / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  await api.start();
  server = await serve(api.app, 0, { hostname: '127.0.0.1' });
  await api.call('POST', '/api/devices', {
    json: {
      device_id: 'device-001',
      device_name: 'Sensor 1',
      device_type: 'temperature',
      location: 'Building A',
    },
  });
  await writePoints();
});
/** Points for device-001 (in the harness's own bucket) and an archive index row. */
async function writePoints() {
  await api.writePoints([
    `iot_telemetry,device_id=device-001,metric=temperature,unit=celsius value=23.5 ${NOW - 1_800_000}`,
    `iot_telemetry,device_id=device-001,metric=humidity value=60 ${NOW - 1_800_000}`,
    `iot_telemetry,device_id=device-001,metric=temperature,unit=celsius value=21 ${NOW - 3 * 3_600_000}`,
  ]);
  await api.database.db
    .insertInto('archive_segments')
    .values({
      kind: 'raw',
      device_id: 'device-001',
      object_key: 'raw/original.records',
      byte_offset: 0,
      byte_length: 100,
      message_count: 1,
      first_received_at: new Date(NOW - 1_800_000),
      last_received_at: new Date(NOW - 1_800_000),
    })
    .execute();
}

afterAll(async () => {
  await server?.close();
  await api.dispose();
});

async function curl(example: string) {
  const command = example
    .replace(/^curl /, `curl -s -w '\\n%{http_code}' -H "Authorization: Bearer ${ADMIN_KEY}" `)
    .replace('http://localhost:8080', `http://127.0.0.1:${server.port}`);
  const { stdout } = await promisify(execFile)('bash', ['-c', command]);
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: JSON.parse(lines.join('\n')) };
}

describe('the original API examples', () => {
  it('all work verbatim, in the README’s order', async () => {
    const results = [];
    for (const example of EXAMPLES) results.push(await curl(example));
    expect(results.map((r) => r.status)).toEqual([
      200, 200, 201, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 200, 200,
    ]);
    const [
      list,
      one,
      created,
      updated,
      deleted,
      heartbeat,
      lastHour,
      day,
      temperature,
      raw,
      alerts,
      unacked,
      alert,
      acked,
      stats,
    ] = results.map((r) => r.body);
    expect(list.map((d: { device_id: string }) => d.device_id)).toEqual(['device-001']);
    expect(one).toMatchObject({ device_id: 'device-001', device_name: 'Sensor 1', location: 'Building A' });
    expect(created).toMatchObject({ device_id: 'device-004', metadata: { sampling_rate: '5s' } });
    expect(updated).toMatchObject({ device_name: 'Updated Sensor', location: 'Building D' });
    expect(deleted).toEqual({ message: 'Device deleted successfully' });
    expect(heartbeat).toEqual({ message: 'Heartbeat received' });
    expect(lastHour).toEqual([
      { time: iso(NOW - 1_800_000), device_id: 'device-001', metric: 'humidity', value: 60 },
      {
        time: iso(NOW - 1_800_000),
        device_id: 'device-001',
        metric: 'temperature',
        value: 23.5,
        unit: 'celsius',
      },
    ]);
    expect(day.map((p: { value: number }) => p.value)).toEqual([21, 60, 23.5]);
    expect(temperature.map((p: { value: number }) => p.value)).toEqual([23.5]);
    expect(raw).toMatchObject([{ filename: 'raw/original.records', message_count: 1 }]);
    expect([alerts, unacked]).toEqual([[], []]);
    expect(alert).toMatchObject({
      id: 1,
      alert_type: 'high_temperature',
      severity: 'warning',
      acknowledged: false,
    });
    expect(acked).toMatchObject({ id: 1, acknowledged: true, acknowledged_by: 'bootstrap-admin' });
    expect(stats).toMatchObject({
      total_devices: 1,
      device_by_status: [{ status: 'active', count: 1 }],
      unacknowledged_alerts: 0,
    });
  });
});
