import { parentPort, workerData } from 'node:worker_threads';
import { DEVICE_TOPIC_KINDS, type DecodeOptions, decodeDeviceMessage } from '@iot-meter/common/protocol';
import { type RawBatchData, RETAIN } from './batch.js';
import { DecodedBatch, type DecodedBatchData } from './decoded-batch.js';

export type DecodeRequest = { id: number; raw: RawBatchData; options: Omit<DecodeOptions, 'receivedAtMs'> };
export type DecodeReply = { id: number; decoded: DecodedBatchData } | { id: number; error: string };

/** Decodes every message of a batch, as `Batch#add` does one by one on the event loop. */
export function decodeBatch(raw: RawBatchData, options: Omit<DecodeOptions, 'receivedAtMs'>): DecodedBatch {
  const decoded = new DecodedBatch();
  const payloads = Buffer.from(raw.payloads.buffer, raw.payloads.byteOffset, raw.payloads.byteLength);
  for (let i = 0; i < raw.payloadEnds.length; i += 1) {
    const kind = DEVICE_TOPIC_KINDS[raw.topicKinds[i] ?? -1];
    const deviceId = raw.devices[raw.deviceOfMessage[i] ?? 0] ?? '';
    const topic = kind === undefined ? (raw.otherTopics.get(i) ?? '') : `iot/${deviceId}/${kind}`;
    const receivedAtMs = raw.receivedAt[i] ?? 0;
    const payload = payloads.subarray(i === 0 ? 0 : (raw.payloadEnds[i - 1] ?? 0), raw.payloadEnds[i] ?? 0);
    const result = decodeDeviceMessage(
      topic,
      payload,
      { ...options, receivedAtMs },
      kind === undefined ? undefined : { deviceId, kind },
    );
    decoded.record(i, result, { receivedAtMs, retain: ((raw.flags[i] ?? 0) & RETAIN) !== 0 });
  }
  return decoded;
}

/** Marks the worker threads decode-pool.ts starts (tests may run the collector in a worker of their own). */
export const DECODE_WORKER = 'iot-meter-decode-worker';

// As a worker thread of the pool: one batch per request, answered with its verdicts.
if (workerData === DECODE_WORKER) {
  parentPort?.on('message', ({ id, raw, options }: DecodeRequest) => {
    try {
      const decoded = decodeBatch(raw, options).data();
      // An exact copy, moved rather than cloned: cloning a view sends its whole buffer.
      const lines = new Uint8Array(decoded.lines);
      const reply: DecodeReply = { id, decoded: { ...decoded, lines } };
      parentPort?.postMessage(reply, [lines.buffer]);
    } catch (err) {
      const reply: DecodeReply = { id, error: err instanceof Error ? err.message : String(err) };
      parentPort?.postMessage(reply);
    }
  });
}
