import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, decodeDeviceMessage, parseDeviceTopic } from '@iot-meter/common';
import { afterAll, describe, expect, it } from 'vitest';
import { Batch } from '../src/ingest/batch.js';

// The pool runs the compiled worker (the integration tests' global setup builds it), as the service
// does: loaded by path, since dist does not exist when the suite is type-checked.
const { DecodePool } = (await import(
  new URL('../dist/ingest/decode-pool.js', import.meta.url).href
)) as typeof import('../src/ingest/decode-pool.js');
type DecodePool = InstanceType<typeof DecodePool>;

const quiet = { logger: createLogger('test', 'silent') };
const options = { maxPayloadBytes: 1024, maxFutureSkewMs: 60_000 };
const receivedAtMs = Date.parse('2026-02-12T16:00:01Z');
const messages: [string, string][] = [
  ['iot/d1/telemetry', '{"timestamp":"2026-02-12T16:00:00Z","temperature":21.5,"unit":"°C"}'],
  ['iot/d2/telemetry', 'not json'],
  ['sensors/x', '{"temperature":1}'],
  ['iot/d1/status', 'offline'],
  [
    'iot/d2/command/ack',
    '{"v":2,"device_id":"d2","ts":"2026-02-12T16:00:00Z","seq":4,"msg_type":"command_ack","cmd_id":"c1","result":"accepted"}',
  ],
  ['iot/d1/telemetry', '{"timestamp":"2027-02-12T16:00:00Z","temperature":22}'],
];

/** The same messages in a batch, decoded as they are added (on the event loop) or left for a worker. */
function batchOf(decodeNow: boolean): Batch {
  const batch = new Batch('b-1', receivedAtMs);
  messages.forEach(([topic, text], i) => {
    const message = {
      topic,
      payload: Buffer.from(text),
      qos: 1 as const,
      dup: false,
      retain: i === 3,
      packetId: i + 1,
      receivedAtMs: receivedAtMs + i,
      userProperties: undefined,
    };
    const parsed = parseDeviceTopic(topic);
    const result = decodeNow
      ? decodeDeviceMessage(
          topic,
          message.payload,
          { ...options, receivedAtMs: message.receivedAtMs },
          parsed,
        )
      : undefined;
    batch.add(message, () => {}, parsed, result);
  });
  return batch;
}

const pools: DecodePool[] = [];
afterAll(() => Promise.all(pools.map((pool) => pool.close())));

describe('decode workers', () => {
  it('reach the same verdicts, lines and device activity as decoding on the event loop', async () => {
    const pool = new DecodePool({ size: 2, decode: options, ...quiet });
    pools.push(pool);
    const inline = batchOf(true);
    const viaWorker = batchOf(false);
    expect(viaWorker.awaitingDecode).toBe(true);
    viaWorker.decodedBy(await pool.decode(viaWorker.raw()));
    expect(viaWorker.awaitingDecode).toBe(false);
    const all = messages.map((_, i) => i);
    expect(viaWorker.linesOf(all).toString()).toBe(inline.linesOf(all).toString());
    expect(viaWorker.linesOf(all).toString()).toBe(
      'iot_telemetry,device_id=d1,metric=temperature,unit=°C value=21.5 1770912000000000000\n',
    );
    expect(viaWorker.rejections).toEqual(inline.rejections);
    expect([...viaWorker.rejections].map(([i, r]) => [i, r.reason])).toEqual([
      [1, 'invalid_json'],
      [2, 'unknown_topic'],
      [5, 'timestamp_in_future'],
    ]);
    expect(viaWorker.activity).toEqual(inline.activity);
    expect(viaWorker.acks).toEqual(inline.acks);
    expect(viaWorker.acks).toHaveLength(1);
    expect(all.map((i) => viaWorker.pointsOf(i))).toEqual([1, 0, 0, 0, 0, 0]);
  });

  it('fail the batches of a worker that dies, and go on with a new one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'decode-pool-'));
    const script = join(dir, 'dying-worker.mjs');
    await writeFile(
      script,
      "import { parentPort } from 'node:worker_threads'; parentPort.on('message', () => process.exit(3));",
    );
    const pool = new DecodePool({ size: 1, decode: options, ...quiet, script: pathToFileURL(script) });
    pools.push(pool);
    await expect(pool.decode(batchOf(false).raw())).rejects.toThrow('decode worker exited with code 3');
    // Until its replacement runs (after a backoff), batches fail at once rather than wait.
    await expect(pool.decode(batchOf(false).raw())).rejects.toThrow('no decode worker running (restarting)');
    // Then the replacement takes the next batch (and dies the same way) instead of leaving it pending.
    await expect
      .poll(() => pool.decode(batchOf(false).raw()).catch((err: Error) => err.message), { timeout: 5000 })
      .toBe('decode worker exited with code 3');
    await pool.close();
    await expect(pool.decode(batchOf(false).raw())).rejects.toThrow('decode pool closed');
    await rm(dir, { recursive: true });
  });
});
