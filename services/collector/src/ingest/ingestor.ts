import { randomBytes } from 'node:crypto';
import {
  type DecodeOptions,
  decodeDeviceMessage,
  type Logger,
  parseDeviceTopic,
  retryUntilDone,
} from '@iot-meter/common';
import { trace } from '@opentelemetry/api';
import type { InboundMessage, Settle } from '../mqtt/session-consumer.js';
import { Batch } from './batch.js';
import { traceBatch } from './batch-tracing.js';
import type { DecodePool } from './decode-pool.js';
import { decodeBatch } from './decode-worker.js';
import type { DecodedBatch } from './decoded-batch.js';
import type { StoreBatch } from './store-batch.js';

export type IngestorOptions = {
  store: StoreBatch;
  logger: Logger;
  decode: Omit<DecodeOptions, 'receivedAtMs'>;
  /** A batch is stored when it holds this many messages or is this old, whichever comes first. */
  batchMaxMessages: number;
  /**
   * The first batch's limit, doubling with each batch up to `batchMaxMessages`: a backlog waiting at
   * start is queryable after a small batch instead of a full one (default: full from the first).
   */
  firstBatchMaxMessages?: number;
  flushIntervalMs: number;
  /** Batches being stored at once; the next one fills meanwhile. */
  maxConcurrentBatches: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Each message as it arrives, by its topic's kind (`unknown` for a topic that is not a device's). */
  onReceived?: (kind: string) => void;
  onStored?: (batch: Batch, seconds: number) => void;
  onStoreError?: (err: unknown, attempt: number) => void;
  /** Worker threads to decode whole batches in; without, each message is decoded as it arrives. */
  decodePool?: DecodePool;
};

/**
 * Decodes messages into batches and stores each batch until it is durable, then settles its
 * messages (which lets the consumer acknowledge them). A failed store is retried with backoff for
 * as long as it takes: unsettled messages hold the consumer's window, so it stops reading and the
 * broker keeps the rest.
 */
export class Ingestor {
  private current: Batch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private storing = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly instance = randomBytes(3).toString('hex');
  private sequence = 0;
  private sizeLimit: number;

  private readonly tracer = trace.getTracer('@iot-meter/collector');

  constructor(private readonly options: IngestorOptions) {
    this.sizeLimit = Math.min(
      options.firstBatchMaxMessages ?? Number.POSITIVE_INFINITY,
      options.batchMaxMessages,
    );
  }

  accept(message: InboundMessage, settle: Settle): void {
    const topic = parseDeviceTopic(message.topic);
    this.options.onReceived?.(topic?.kind ?? 'unknown');
    if (!this.current) {
      const batch = new Batch(
        `${message.receivedAtMs}-${this.instance}-${this.sequence++}`,
        message.receivedAtMs,
        this.sizeLimit,
      );
      this.sizeLimit = Math.min(this.sizeLimit * 2, this.options.batchMaxMessages);
      this.current = batch;
      // The timer marks the batch due rather than comparing clocks: timers may fire a little early.
      this.timer = setTimeout(() => {
        batch.due = true;
        this.pump();
      }, this.options.flushIntervalMs);
    }
    if (this.options.decodePool) {
      this.current.add(message, settle, topic);
    } else {
      const { maxPayloadBytes, maxFutureSkewMs } = this.options.decode;
      const result = decodeDeviceMessage(
        message.topic,
        message.payload,
        { maxPayloadBytes, maxFutureSkewMs, receivedAtMs: message.receivedAtMs },
        topic,
      );
      this.current.add(message, settle, topic, result);
    }
    if (this.current.size >= this.current.sizeLimit) this.pump();
  }

  /** Batches held: the one filling and those being stored. */
  get pendingBatches(): number {
    return this.storing + (this.current ? 1 : 0);
  }

  /** Stores whatever is held and resolves when nothing is left. */
  async drain(): Promise<void> {
    this.pump(true);
    while (this.pendingBatches > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.pump(true);
    }
  }

  // Starts storing the filling batch when a slot is free and the batch is full or due.
  private pump(force = false): void {
    const batch = this.current;
    if (!batch || this.storing >= this.options.maxConcurrentBatches) return;
    if (!force && !batch.due && batch.size < batch.sizeLimit) return;
    clearTimeout(this.timer);
    this.current = undefined;
    this.storing += 1;
    void this.storeUntilDurable(batch).finally(() => {
      this.storing -= 1;
      this.pump();
      if (this.pendingBatches === 0 || this.storing < this.options.maxConcurrentBatches) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    });
  }

  // In a worker; on the event loop when none can take it, so workers that cannot run never stall
  // ingest (the store stages after it retry on their own).
  private async decodeElsewhere(pool: DecodePool, batch: Batch): Promise<DecodedBatch> {
    try {
      return await pool.decode(batch.raw());
    } catch (err) {
      this.options.logger.warn({ err, batch: batch.id }, 'decode worker failed, decoding on the event loop');
      return decodeBatch(batch.raw(), this.options.decode);
    }
  }

  private async storeUntilDurable(batch: Batch): Promise<void> {
    const started = performance.now();
    await retryUntilDone(
      async (attempt) => {
        const pool = this.options.decodePool;
        if (pool && batch.awaitingDecode) batch.decodedBy(await this.decodeElsewhere(pool, batch));
        await traceBatch(this.tracer, batch, attempt, () => this.options.store(batch));
      },
      {
        minMs: this.options.retryMinMs,
        maxMs: this.options.retryMaxMs,
        onFailure: (err, attempt) => {
          this.options.onStoreError?.(err, attempt);
          this.options.logger.warn(
            { err, batch: batch.id, attempt, messages: batch.size },
            'batch store failed',
          );
        },
      },
    );
    batch.settleAll();
    this.options.onStored?.(batch, (performance.now() - started) / 1000);
  }
}
