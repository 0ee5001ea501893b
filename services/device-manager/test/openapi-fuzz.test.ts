import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { serve } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_KEY, ApiHarness } from './api-harness.js';

const stackEnv = inject('stackEnv');
const api = new ApiHarness(stackEnv);
let server: Awaited<ReturnType<typeof serve>>;

beforeAll(async () => {
  await api.start();
  server = await serve(api.app, 0, { hostname: '127.0.0.1' });
  await api.call('POST', '/api/devices', { json: { device_id: 'fuzz-1', device_name: 'Fuzz' } });
});
afterAll(async () => {
  await server?.close();
  await api.dispose();
});

// Schemathesis generates requests from /openapi.json (valid and invalid ones, then stateful
// sequences) and checks every answer: no 5xx, only documented statuses and content types, and
// bodies and headers that match the documented schemas. One worker: its threads race in Python.
describe('schema-driven fuzzing of the API', () => {
  it('finds no server error and no answer that breaks the OpenAPI document', {
    timeout: 300_000,
  }, async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'schemathesis-'));
    const checks = [
      'not_a_server_error',
      'status_code_conformance',
      'content_type_conformance',
      'response_headers_conformance',
      'response_schema_conformance',
    ];
    const result = await promisify(execFile)(
      stackEnv.SCHEMATHESIS_BIN ?? 'st',
      [
        'run',
        `http://127.0.0.1:${server.port}/openapi.json`,
        ...['-H', `Authorization: Bearer ${ADMIN_KEY}`],
        ...['--checks', checks.join(','), '--max-examples', '25', '-w', '1', '--no-color'],
      ],
      // Its caches (.schemathesis, .hypothesis) go to a scratch folder, never into the checkout.
      { maxBuffer: 1 << 26, cwd: scratch, env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' } },
    ).catch((err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? '', code: err.code }));
    const summary = /(\d+) generated, (\d+) passed/.exec(result.stdout);
    // On failure the whole report (with curl lines to reproduce) is the message.
    expect({ exit: 'code' in result ? result.code : 0, report: summary ? 'clean' : result.stdout }).toEqual({
      exit: 0,
      report: 'clean',
    });
    expect(Number(summary?.[1])).toBeGreaterThan(1000);
    expect(summary?.[2]).toBe(summary?.[1]);
    await rm(scratch, { recursive: true, force: true });
  });
});
