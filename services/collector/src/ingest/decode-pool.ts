import { Worker } from 'node:worker_threads';
import type { DecodeOptions } from '@iot-meter/common';
import type { RawBatchData } from './batch.js';
import { DECODE_WORKER, type DecodeReply } from './decode-worker.js';
import { DecodedBatch } from './decoded-batch.js';

type Pending = { resolve: (decoded: DecodedBatch) => void; reject: (err: Error) => void };

/**
 * Worker threads that decode whole batches (INGEST_WORKERS), so the event loop that owns the MQTT
 * connection only frames packets, copies payloads and stores batches. A batch goes to the worker
 * with the fewest batches in hand. A worker that dies fails its batches (the ingestor retries them,
 * as any failed store) and is replaced.
 */
export class DecodePool {
  private readonly workers: { worker: Worker; pending: Map<number, Pending> }[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    size: number,
    private readonly options: Omit<DecodeOptions, 'receivedAtMs'>,
    /** For tests: another worker script, or Node options other than this process's. */
    private readonly thread: { script?: URL; execArgv?: string[] } = {},
  ) {
    for (let i = 0; i < size; i += 1) this.workers.push(this.spawn());
  }

  decode(raw: RawBatchData): Promise<DecodedBatch> {
    const slot = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, raw, options: this.options });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map(({ worker }) => worker.terminate()));
  }

  private spawn() {
    const worker = new Worker(this.thread.script ?? new URL('./decode-worker.js', import.meta.url), {
      workerData: DECODE_WORKER,
      ...(this.thread.execArgv ? { execArgv: this.thread.execArgv } : {}),
    });
    const slot = { worker, pending: new Map<number, Pending>() };
    worker.on('message', (reply: DecodeReply) => {
      const pending = slot.pending.get(reply.id);
      slot.pending.delete(reply.id);
      if ('error' in reply) pending?.reject(new Error(`decode worker: ${reply.error}`));
      else pending?.resolve(new DecodedBatch(reply.decoded));
    });
    // Idle workers do not keep a stopping process alive.
    worker.unref();
    worker.on('error', (err) => this.failAll(slot, err));
    worker.on('exit', (code) => {
      this.failAll(slot, new Error(`decode worker exited with code ${code}`));
      if (this.closed) return;
      const index = this.workers.indexOf(slot);
      if (index >= 0) this.workers[index] = this.spawn();
    });
    return slot;
  }

  private failAll(slot: { pending: Map<number, Pending> }, err: Error): void {
    for (const { reject } of slot.pending.values()) reject(err);
    slot.pending.clear();
  }
}
