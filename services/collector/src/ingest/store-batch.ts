import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { insertArchiveSegments } from '../archive/archive-segments.repository.js';
import type { ArchiveWriter } from '../archive/archive-writer.js';
import { summariseActivity } from '../devices/device-activity.js';
import { recordCommandAcks, trackSequences, upsertPresence } from '../devices/device-state.repository.js';
import { type InfluxWriter, RejectedWriteError } from '../timeseries/influx-writer.js';
import type { Batch } from './batch.js';

export type StoreBatch = (batch: Batch) => Promise<void>;

export type StoreDependencies = {
  influx: InfluxWriter;
  archive: ArchiveWriter;
  db: Kysely<Database>;
  maxLinesPerWrite: number;
  /** InfluxDB requests of one batch in flight at once. */
  concurrentWrites: number;
  /** A stage that has not finished by then counts as failed (and is retried). */
  stageTimeoutMs: number;
  /** Called with the store's name and the seconds a stage took, for metrics. */
  observe?: (store: 'influxdb' | 'object_store' | 'postgres', seconds: number) => void;
};

/**
 * Makes a batch durable: points into InfluxDB first (its refusals turn messages into quarantine
 * entries), then the raw archive and quarantine objects, then in PostgreSQL their index rows and
 * the devices' presence, sequence tracking and command acknowledgements. Throws on a
 * failure worth retrying; completed stages are not repeated.
 */
export function createStoreBatch(deps: StoreDependencies): StoreBatch {
  const timed = async (store: 'influxdb' | 'object_store' | 'postgres', work: () => Promise<void>) => {
    const started = performance.now();
    await withDeadline(work(), deps.stageTimeoutMs, store);
    deps.observe?.(store, (performance.now() - started) / 1000);
  };
  return async (batch) => {
    if (!batch.timeseriesDone) {
      await timed('influxdb', () => writeTimeseries(batch, deps));
      batch.timeseriesDone = true;
    }
    if (!batch.archiveDone) {
      await timed('object_store', async () => {
        batch.segments = await deps.archive.write(batch);
      });
      batch.archiveDone = true;
    }
    if (!batch.indexDone) {
      // One transaction: the archive index, presence, sequence tracking and command acks.
      await timed('postgres', () =>
        deps.db.transaction().execute(async (trx) => {
          const { devices, acks } = summariseActivity(batch);
          await insertArchiveSegments(trx, batch.segments);
          await upsertPresence(trx, devices);
          batch.sequences = await trackSequences(trx, devices);
          await recordCommandAcks(trx, acks);
        }),
      );
      batch.indexDone = true;
    }
  };
}

// A server that goes away mid-response can leave a client library's promise pending for good (seen
// with InfluxDB stopped during a write); a deadline turns that into an ordinary, retried failure.
async function withDeadline(work: Promise<void>, ms: number, store: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${store} did not answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function writeTimeseries(batch: Batch, deps: StoreDependencies): Promise<void> {
  const telemetry: number[] = [];
  for (let i = 0; i < batch.size; i += 1) if (batch.pointsOf(i) > 0) telemetry.push(i);
  // A few writes at once: a batch of many-sample messages is many requests, and one at a time they
  // left InfluxDB idle between them.
  // Once one lane fails the others take no more chunks, and the attempt ends only when none is
  // still writing: nothing of a failed attempt may go on beside its retry.
  const chunks = [...chunkByPoints(batch, telemetry, deps.maxLinesPerWrite)];
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < chunks.length) {
      try {
        await writeChunk(chunks[next++] ?? []);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = await Promise.allSettled(
    Array.from({ length: Math.min(deps.concurrentWrites, chunks.length) }, lane),
  );
  const failure = lanes.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;

  // A refused write is split in halves until the refusing messages stand alone; only those are
  // quarantined, and rewriting the accepted halves is harmless (same series, same times).
  async function writeChunk(part: number[]): Promise<void> {
    if (part.length === 0) return;
    try {
      await deps.influx.write(batch.linesOf(part));
    } catch (err) {
      if (!(err instanceof RejectedWriteError)) throw err;
      const [only] = part;
      if (part.length === 1 && only !== undefined) {
        batch.reject(only, 'timeseries_rejected', `influxdb ${err.statusCode}: ${err.message.slice(0, 300)}`);
        return;
      }
      const middle = Math.ceil(part.length / 2);
      await writeChunk(part.slice(0, middle));
      await writeChunk(part.slice(middle));
    }
  }
}

function* chunkByPoints(batch: Batch, telemetry: number[], maxLines: number): Generator<number[]> {
  let chunk: number[] = [];
  let lines = 0;
  for (const index of telemetry) {
    const points = batch.pointsOf(index);
    if (chunk.length > 0 && lines + points > maxLines) {
      yield chunk;
      chunk = [];
      lines = 0;
    }
    chunk.push(index);
    lines += points;
  }
  if (chunk.length > 0) yield chunk;
}
