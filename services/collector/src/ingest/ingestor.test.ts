import { createLogger } from '@iot-meter/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InboundMessage } from '../mqtt/session-consumer.js';
import type { Batch } from './batch.js';
import type { DecodePool } from './decode-pool.js';
import { Ingestor, type IngestorOptions } from './ingestor.js';

const logger = createLogger('test', 'silent');

function message(seq: number, payload?: string): InboundMessage {
  return {
    topic: 'iot/d1/telemetry',
    payload: Buffer.from(payload ?? `{"timestamp":"2026-02-12T16:00:00Z","temperature":${seq}}`),
    qos: 1,
    dup: false,
    retain: false,
    packetId: seq,
    receivedAtMs: Date.parse('2026-02-12T16:00:01Z'),
    userProperties: undefined,
  };
}

/** A store at our own interface: it records batches and fails as told. */
function createFakeStore(failures = 0) {
  const stored: number[][] = [];
  let failuresLeft = failures;
  let calls = 0;
  return {
    stored,
    get calls() {
      return calls;
    },
    store: async (batch: Batch) => {
      calls += 1;
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('store down');
      }
      stored.push(Array.from({ length: batch.size }, (_, i) => batch.packetIdOf(i) ?? -1));
    },
  };
}

function createIngestor(store: IngestorOptions['store'], overrides: Partial<IngestorOptions> = {}) {
  return new Ingestor({
    store,
    logger,
    decode: { maxPayloadBytes: 1024, maxFutureSkewMs: 60_000 },
    batchMaxMessages: 3,
    flushIntervalMs: 50,
    maxConcurrentBatches: 1,
    retryMinMs: 1,
    retryMaxMs: 5,
    ...overrides,
  });
}

// The flush interval and the retry delays run on a fake clock: each test moves time itself.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Ingestor', () => {
  it('stores full batches at once and a partial one after the flush interval, settling only stored messages', async () => {
    const fake = createFakeStore();
    const ingestor = createIngestor(fake.store, { maxConcurrentBatches: 2 });
    const settled: number[] = [];
    for (let seq = 1; seq <= 7; seq += 1) ingestor.accept(message(seq), () => settled.push(seq));

    await vi.advanceTimersByTimeAsync(0);
    expect(fake.stored).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    // Message 7 waits for its interval (50 ms); nothing else arrives to push it out.
    await vi.advanceTimersByTimeAsync(49);
    expect(fake.stored).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.stored.length).toBe(3);
    expect(fake.stored[2]).toEqual([7]);
    expect(settled).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts with small batches and doubles them up to the full size', async () => {
    const fake = createFakeStore();
    const ingestor = createIngestor(fake.store, {
      batchMaxMessages: 8,
      firstBatchMaxMessages: 1,
      maxConcurrentBatches: 8,
    });
    for (let seq = 1; seq <= 31; seq += 1) ingestor.accept(message(seq), () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.stored.map((batch) => batch.length)).toEqual([1, 2, 4, 8, 8, 8]);
    expect(fake.stored.flat()).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
  });

  it('keeps filling the open batch while every slot is busy', async () => {
    const fake = createFakeStore();
    const ingestor = createIngestor(fake.store, { maxConcurrentBatches: 1 });
    for (let seq = 1; seq <= 7; seq += 1) ingestor.accept(message(seq), () => {});
    // The open batch takes 4 to 7 while the first is stored, and is stored once the slot is free.
    await vi.advanceTimersByTimeAsync(0);
    expect(fake.stored).toEqual([
      [1, 2, 3],
      [4, 5, 6, 7],
    ]);
  });

  it('retries a failed store until it succeeds and settles nothing before', async () => {
    const fake = createFakeStore(3);
    const errors: number[] = [];
    const ingestor = createIngestor(fake.store, { onStoreError: (_err, attempt) => errors.push(attempt) });
    const settled: number[] = [];
    for (let seq = 1; seq <= 3; seq += 1) ingestor.accept(message(seq), () => settled.push(seq));
    expect(settled).toEqual([]);

    // Three failures, each followed by a backoff of at most retryMaxMs (5 ms).
    await vi.advanceTimersByTimeAsync(15);
    expect(settled).toEqual([1, 2, 3]);
    expect(errors).toEqual([0, 1, 2]);
    expect(fake.calls).toBe(4);
    expect(fake.stored).toEqual([[1, 2, 3]]);
  });

  it('hands bad input to the store as a quarantine entry with its reason, never dropping it', async () => {
    const batches: Batch[] = [];
    const ingestor = createIngestor(async (batch) => void batches.push(batch), { batchMaxMessages: 2 });
    ingestor.accept(message(1, 'not json'), () => {});
    ingestor.accept(message(2), () => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(batches.length).toBe(1);
    const batch = batches[0];
    expect([0, 1].map((i) => [batch?.rejections.get(i)?.reason, batch?.kindOf(i)])).toEqual([
      ['invalid_json', undefined],
      [undefined, 'telemetry'],
    ]);
    // The quarantined message keeps its bytes for the archive.
    expect(batch?.payloadOf(0).toString()).toBe('not json');
  });

  it('drains: stores what it holds at once and resolves when nothing is pending', async () => {
    const fake = createFakeStore(1);
    const ingestor = createIngestor(fake.store, { flushIntervalMs: 60_000 });
    const settled: number[] = [];
    for (let seq = 1; seq <= 5; seq += 1) ingestor.accept(message(seq), () => settled.push(seq));
    const drained = ingestor.drain();
    // The first batch's store fails once and is retried after at most retryMaxMs (5 ms).
    await vi.advanceTimersByTimeAsync(5);
    await drained;
    expect(settled).toEqual([1, 2, 3, 4, 5]);
    expect(fake.stored).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(ingestor.pendingBatches).toBe(0);
  });

  it('decodes on the event loop when no decode worker can take a batch', async () => {
    const batches: Batch[] = [];
    const down = { decode: () => Promise.reject(new Error('no decode worker running')) };
    const ingestor = createIngestor(async (batch) => void batches.push(batch), {
      batchMaxMessages: 2,
      decodePool: down as unknown as DecodePool,
    });
    ingestor.accept(message(1, 'not json'), () => {});
    ingestor.accept(message(2), () => {});
    await vi.advanceTimersByTimeAsync(0);
    const batch = batches[0];
    expect(batch?.awaitingDecode).toBe(false);
    expect(
      [0, 1].map((i) => [batch?.rejections.get(i)?.reason, batch?.kindOf(i), batch?.pointsOf(i)]),
    ).toEqual([
      ['invalid_json', undefined, 0],
      [undefined, 'telemetry', 1],
    ]);
  });
});
