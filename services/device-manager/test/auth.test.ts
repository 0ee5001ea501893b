import { serve } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, ApiHarness } from './api-harness.js';

const api = new ApiHarness(inject('stackEnv'));
const keys: Record<string, string> = {};

beforeAll(async () => {
  await api.start();
  await api.call('POST', '/api/devices', { json: { device_id: 'auth-1', device_name: 'A' } });
  for (const role of ['viewer', 'operator', 'admin']) {
    const created = await api.call('POST', '/api/keys', { json: { name: `${role}-key`, role } });
    expect(created.status).toBe(201);
    keys[role] = (created.json as { key: string }).key;
  }
});
afterAll(() => api.dispose());

// Each route with the weakest role that may call it.
// A fourth element is the JSON body, or (a string) an NDJSON one.
const ROUTES: [string, string, string, unknown?][] = [
  ['viewer', 'GET', '/api/devices'],
  ['viewer', 'GET', '/api/devices/auth-1'],
  ['viewer', 'GET', '/api/devices/auth-1/status'],
  ['viewer', 'GET', '/api/devices/auth-1/alerts'],
  ['viewer', 'GET', '/api/alerts'],
  ['viewer', 'GET', '/api/stats'],
  ['viewer', 'GET', '/api/devices/auth-1/metrics'],
  ['viewer', 'GET', '/api/devices/auth-1/latest'],
  ['viewer', 'GET', '/api/devices/auth-1/raw-data'],
  ['viewer', 'GET', '/api/devices/auth-1/raw-data/messages'],
  ['viewer', 'GET', '/api/devices/auth-1/raw-data/download'],
  ['viewer', 'GET', '/api/devices/auth-1/commands'],
  ['viewer', 'GET', '/api/commands/00000000-0000-4000-8000-000000000000'],
  ['viewer', 'GET', '/api/alert-rules'],
  ['viewer', 'GET', '/api/alert-rules/999999'],
  ['operator', 'POST', '/api/devices', { device_id: 'auth-new', device_name: 'N' }],
  ['operator', 'PUT', '/api/devices/auth-1', { location: 'L' }],
  ['operator', 'POST', '/api/devices/auth-1/heartbeat'],
  ['operator', 'POST', '/api/devices/auth-1/credentials'],
  ['operator', 'PUT', '/api/devices/auth-1/status', { connection_status: 'online' }],
  ['operator', 'POST', '/api/devices/auth-1/alerts', {}],
  ['operator', 'POST', '/api/alerts/1/acknowledge'],
  ['operator', 'POST', '/api/alerts/1/resolve'],
  ['operator', 'POST', '/api/devices/auth-1/commands', { cmd: 'reboot' }],
  ['operator', 'POST', '/api/devices/import', '{"device_id":"auth-imp","device_name":"I"}'],
  ['operator', 'PUT', '/api/commands/00000000-0000-4000-8000-000000000000/ack', { result: 'accepted' }],
  [
    'operator',
    'POST',
    '/api/alert-rules',
    { name: 'auth-rule', kind: 'offline', for: '5m', scope: { all_devices: true } },
  ],
  [
    'operator',
    'PUT',
    '/api/alert-rules/999999',
    { name: 'auth-rule', kind: 'offline', for: '5m', scope: { all_devices: true } },
  ],
  [
    'operator',
    'POST',
    '/api/alert-rules/preview',
    { rule: { name: 'auth-rule', kind: 'no_data', for: '5m', scope: { all_devices: true } } },
  ],
  ['admin', 'DELETE', '/api/devices/auth-gone'],
  ['admin', 'DELETE', '/api/alert-rules/999999'],
  ['admin', 'GET', '/api/webhooks'],
  ['admin', 'POST', '/api/webhooks', { name: 'auth-hook', url: 'https://hooks.example.com/x' }],
  ['admin', 'DELETE', '/api/webhooks/999999'],
  ['admin', 'GET', '/api/webhooks/999999/deliveries'],
  ['admin', 'GET', '/api/keys'],
  ['admin', 'POST', '/api/keys', { name: 'k', role: 'viewer' }],
  ['admin', 'DELETE', '/api/keys/999999'],
];
const RANK = ['viewer', 'operator', 'admin'];

describe('authentication and roles', () => {
  it('lets each role do exactly what it may (role × route matrix)', async () => {
    const outcomes: string[] = [];
    for (const role of RANK) {
      for (const [needed, method, path, json] of ROUTES) {
        const body =
          typeof json === 'string'
            ? { body: json, headers: { 'content-type': 'application/x-ndjson' } }
            : json === undefined
              ? {}
              : { json };
        const r = await api.call(method, path, { key: keys[role], ...body });
        const allowed = RANK.indexOf(role) >= RANK.indexOf(needed);
        outcomes.push(
          `${role} ${method} ${path} ${allowed ? r.status !== 403 && r.status !== 401 : r.status === 403}`,
        );
        if (!allowed) expect(r.json).toEqual({ error: `this needs the ${needed} role`, code: 'forbidden' });
      }
    }
    expect(outcomes.filter((o) => o.endsWith('false'))).toEqual([]);
    expect(outcomes).toHaveLength(3 * ROUTES.length);
  });

  it('refuses a missing, malformed, unknown or revoked key with 401', async () => {
    const none = await api.call('GET', '/api/devices', { key: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.json).toEqual({ error: 'missing or invalid API key', code: 'unauthorized' });
    expect((await api.call('GET', '/api/devices', { key: 'not-a-key' })).status).toBe(401);
    const forged = `${keys.viewer?.slice(0, -4)}AAAA`;
    expect((await api.call('GET', '/api/devices', { key: forged })).status).toBe(401);

    const made = await api.call('POST', '/api/keys', { json: { name: 'short-lived', role: 'operator' } });
    const { id, key } = made.json as { id: number; key: string };
    expect((await api.call('GET', '/api/devices', { key })).status).toBe(200);
    const revoked = await api.call('DELETE', `/api/keys/${id}`);
    expect(revoked.json).toMatchObject({
      id,
      name: 'short-lived',
      role: 'operator',
      revoked_at: expect.any(String),
    });
    expect((await api.call('GET', '/api/devices', { key })).status).toBe(401);
  });

  it('stores only a hash of each key and never lists secrets', async () => {
    const rows = await api.database.db.selectFrom('api_keys').selectAll().execute();
    for (const row of rows) expect(Object.values(keys)).not.toContain(row.key_hash);
    const listed = await api.call('GET', '/api/keys?include_revoked=true');
    expect(listed.text).not.toContain(keys.viewer ?? '-');
    expect(
      (listed.json as { name: string; created_by: string }[]).map((k) => [k.name, k.created_by]),
    ).toEqual([
      ['viewer-key', 'bootstrap-admin'],
      ['operator-key', 'bootstrap-admin'],
      ['admin-key', 'bootstrap-admin'],
      ['k', 'admin-key'],
      ['short-lived', 'bootstrap-admin'],
    ]);
  });

  it('keeps health, readiness, metrics and the API description open', async () => {
    for (const path of ['/health', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs']) {
      expect([path, (await api.call('GET', path, { key: null })).status]).toEqual([path, 200]);
    }
    const doc = (await api.call('GET', '/openapi.json', { key: null })).json as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/alert-rules',
      '/api/alert-rules/preview',
      '/api/alert-rules/{rule_id}',
      '/api/alerts',
      '/api/alerts/{alert_id}/acknowledge',
      '/api/alerts/{alert_id}/resolve',
      '/api/commands/{cmd_id}',
      '/api/commands/{cmd_id}/ack',
      '/api/devices',
      '/api/devices/import',
      '/api/devices/{device_id}',
      '/api/devices/{device_id}/alerts',
      '/api/devices/{device_id}/commands',
      '/api/devices/{device_id}/credentials',
      '/api/devices/{device_id}/heartbeat',
      '/api/devices/{device_id}/latest',
      '/api/devices/{device_id}/metrics',
      '/api/devices/{device_id}/raw-data',
      '/api/devices/{device_id}/raw-data/download',
      '/api/devices/{device_id}/raw-data/messages',
      '/api/devices/{device_id}/status',
      '/api/keys',
      '/api/keys/{key_id}',
      '/api/stats',
      '/api/webhooks',
      '/api/webhooks/{webhook_id}',
      '/api/webhooks/{webhook_id}/deliveries',
    ]);
  });
});

describe('limits and failures', () => {
  it('rate-limits per key with 429 and Retry-After', async () => {
    const limited = new ApiHarness(inject('stackEnv'));
    await limited.start({ API_RATE_LIMIT_PER_SECOND: 0.5, API_RATE_LIMIT_BURST: 3 });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push(await limited.call('GET', '/api/stats'));
      expect(statuses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
      expect(statuses[3]?.headers.get('retry-after')).toBe('2');
      expect(statuses[3]?.json).toEqual({ error: 'too many requests', code: 'rate_limited' });
      expect((await limited.call('GET', '/healthz', { key: null })).status).toBe(200);
    } finally {
      await limited.dispose();
    }
  });

  it('limits each client behind a trusted proxy on its own, and believes no one else’s header', async () => {
    const behind = new ApiHarness(inject('stackEnv'));
    await behind.start({
      API_CLIENT_RATE_LIMIT_PER_SECOND: 0.5,
      API_CLIENT_RATE_LIMIT_BURST: 2,
      API_TRUSTED_PROXIES: ['127.0.0.1'],
    });
    const server = await serve(behind.app, 0, { hostname: '127.0.0.1' });
    try {
      const get = async (forwardedFor?: string) =>
        (
          await fetch(`http://127.0.0.1:${server.port}/api/stats`, {
            headers: {
              authorization: `Bearer ${ADMIN_KEY}`,
              ...(forwardedFor && { 'x-forwarded-for': forwardedFor }),
            },
          })
        ).status;
      // Two clients through the proxy (this test's loopback peer): a budget of two each.
      expect([await get('198.51.100.1'), await get('198.51.100.1'), await get('198.51.100.1')]).toEqual([
        200, 200, 429,
      ]);
      expect([await get('6.6.6.6, 198.51.100.2'), await get('198.51.100.2')]).toEqual([200, 200]);
      // The proxy's own requests are the proxy's.
      expect([await get(), await get(), await get()]).toEqual([200, 200, 429]);
    } finally {
      await server.close();
      await behind.dispose();
    }
    // Without the proxy trusted, the header is ignored: everyone behind it shares one budget.
    const direct = new ApiHarness(inject('stackEnv'));
    await direct.start({ API_CLIENT_RATE_LIMIT_PER_SECOND: 0.5, API_CLIENT_RATE_LIMIT_BURST: 2 });
    const plain = await serve(direct.app, 0, { hostname: '127.0.0.1' });
    try {
      const statuses = [];
      for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
        const r = await fetch(`http://127.0.0.1:${plain.port}/api/stats`, {
          headers: { authorization: `Bearer ${ADMIN_KEY}`, 'x-forwarded-for': client },
        });
        statuses.push(r.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await plain.close();
      await direct.dispose();
    }
  });

  it('answers a database failure with a 500 that reveals nothing', async () => {
    const broken = new ApiHarness(inject('stackEnv'));
    await broken.start();
    await broken.dispose();
    const r = await broken.call('GET', '/api/devices');
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: 'internal server error', code: 'internal_error' });
  });
});
