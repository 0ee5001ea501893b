import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { traceBatch } from './batch-tracing.js';

function batchWith(traceparents: (string | undefined)[]): Batch {
  const batch = new Batch('b-1', 0);
  for (const [i, traceparent] of traceparents.entries()) {
    batch.add(
      {
        topic: 'iot/d1/telemetry',
        payload: Buffer.from('{}'),
        qos: 1,
        dup: false,
        retain: false,
        packetId: i,
        receivedAtMs: 0,
        userProperties: traceparent ? { traceparent } : undefined,
      },
      () => {},
      { deviceId: 'd1', kind: 'telemetry' },
      { ok: false, reason: 'no_measurements', detail: 'none' },
    );
  }
  return batch;
}

describe('batch spans', () => {
  it('links a batch span to each publisher trace and records failures', async () => {
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
      'test',
    );
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const batch = batchWith([parent, undefined, 'not-a-traceparent']);

    let ran = false;
    await traceBatch(tracer, batch, 0, async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    await expect(
      traceBatch(tracer, batch, 1, async () => Promise.reject(new Error('influxdb down'))),
    ).rejects.toThrow('influxdb down');

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => [s.name, s.attributes['iot.batch.attempt'], s.status.code])).toEqual([
      ['collector.store_batch', 0, 0],
      ['collector.store_batch', 1, 2],
    ]);
    expect(spans[0]?.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
      ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331'],
    ]);
    expect(spans[0]?.attributes['iot.batch.messages']).toBe(3);
  });
});
