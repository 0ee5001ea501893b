import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { serve } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, ApiHarness } from './api-harness.js';

// The seed README's curl examples, byte for byte, run by curl against the API on a real port; the
// only change is the authorization header every /api request now needs.
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

const api = new ApiHarness(inject('stackEnv'));
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  await api.start();
  server = await serve(api.app, 0, '127.0.0.1');
  await api.call('POST', '/api/devices', {
    json: {
      device_id: 'device-001',
      device_name: 'Sensor 1',
      device_type: 'temperature',
      location: 'Building A',
    },
  });
});
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

describe('the seed README examples', () => {
  it('all work verbatim, in the README’s order', async () => {
    const results = [];
    for (const example of EXAMPLES) results.push(await curl(example));
    expect(results.map((r) => r.status)).toEqual([200, 200, 201, 200, 200, 200, 200, 200, 201, 200, 200]);
    const [list, one, created, updated, deleted, heartbeat, alerts, unacked, alert, acked, stats] =
      results.map((r) => r.body);
    expect(list.map((d: { device_id: string }) => d.device_id)).toEqual(['device-001']);
    expect(one).toMatchObject({ device_id: 'device-001', device_name: 'Sensor 1', location: 'Building A' });
    expect(created).toMatchObject({ device_id: 'device-004', metadata: { sampling_rate: '5s' } });
    expect(updated).toMatchObject({ device_name: 'Updated Sensor', location: 'Building D' });
    expect(deleted).toEqual({ message: 'Device deleted successfully' });
    expect(heartbeat).toEqual({ message: 'Heartbeat received' });
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
