import { Worker } from 'node:worker_threads';
import { createBackoff, type DecodeOptions, type Logger } from '@iot-meter/common';
import type { RawBatchData } from './batch.js';
import { DECODE_WORKER, type DecodeReply, type DecodeRequest } from './decode-worker.js';
import { DecodedBatch } from './decoded-batch.js';

type Pending = { resolve: (decoded: DecodedBatch) => void; reject: (err: Error) => void };
type Slot = { worker: Worker; alive: boolean; pending: Map<number, Pending> };

export type DecodePoolOptions = {
  size: number;
  decode: Omit<DecodeOptions, 'receivedAtMs'>;
  logger: Logger;
  /** For tests: another worker script. */
  script?: URL;
};

/**
 * Worker threads that decode whole batches (INGEST_WORKERS), so the event loop that owns the MQTT
 * connection only frames packets, copies payloads and stores batches. A batch goes to the live
 * worker with the fewest batches in hand. A worker that dies fails its batches (the ingestor
 * retries them, as any failed store) and is replaced after a backoff, so one that cannot start
 * does not respawn in a tight loop.
 */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly respawnDelays = createBackoff({ minMs: 100, maxMs: 10_000 });
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: DecodePoolOptions) {
    for (let i = 0; i < options.size; i += 1) this.slots.push(this.spawn());
  }

  decode(raw: RawBatchData): Promise<DecodedBatch> {
    if (this.closed) return Promise.reject(new Error('decode pool closed'));
    const live = this.slots.filter((slot) => slot.alive);
    const slot = live.reduce<Slot | undefined>(
      (a, b) => (a && a.pending.size <= b.pending.size ? a : b),
      undefined,
    );
    if (!slot) return Promise.reject(new Error('no decode worker running (restarting)'));
    const id = this.nextId++;
    // An exact copy, moved rather than cloned: cloning a view sends its whole buffer.
    const payloads = new Uint8Array(raw.payloads);
    const request: DecodeRequest = { id, raw: { ...raw, payloads }, options: this.options.decode };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(request, [payloads.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map(({ worker }) => worker.terminate()));
  }

  private spawn(): Slot {
    // With Node's own module resolution, not this process's options: the worker is compiled
    // JavaScript, and a process run from sources (tests: tsx and the sources' export condition)
    // would hand it the condition without the loader that makes it work.
    const worker = new Worker(this.options.script ?? new URL('./decode-worker.js', import.meta.url), {
      workerData: DECODE_WORKER,
      execArgv: [],
    });
    const slot: Slot = { worker, alive: true, pending: new Map() };
    worker.on('message', (reply: DecodeReply) => {
      const pending = slot.pending.get(reply.id);
      slot.pending.delete(reply.id);
      if ('error' in reply) {
        pending?.reject(new Error(`decode worker: ${reply.error}`));
      } else {
        this.respawnDelays.reset();
        pending?.resolve(new DecodedBatch(reply.decoded));
      }
    });
    // Idle workers do not keep a stopping process alive.
    worker.unref();
    worker.on('error', (err) => this.fail(slot, err));
    worker.on('exit', (code) => {
      this.fail(slot, new Error(`decode worker exited with code ${code}`));
      if (this.closed) return;
      const delay = this.respawnDelays.next();
      this.options.logger.warn({ code, restartInMs: delay }, 'decode worker exited');
      setTimeout(() => {
        if (this.closed) return;
        const index = this.slots.indexOf(slot);
        if (index >= 0) this.slots[index] = this.spawn();
      }, delay).unref();
    });
    return slot;
  }

  private fail(slot: Slot, err: Error): void {
    slot.alive = false;
    for (const { reject } of slot.pending.values()) reject(err);
    slot.pending.clear();
  }
}
