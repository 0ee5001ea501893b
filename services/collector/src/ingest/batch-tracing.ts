import { runInSpan } from '@iot-meter/common';
import { type Link, ROOT_CONTEXT, type Tracer, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Batch } from './batch.js';

// A batch mixes many publishers' messages, so its span links to their traces instead of having a parent.
const MAX_LINKS = 128;
const propagator = new W3CTraceContextPropagator();
const getter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/** Links to the traces of the batch's messages that carried a `traceparent` MQTT 5 user property. */
export function publisherLinks(batch: Batch): Link[] {
  const links: Link[] = [];
  for (const traceparent of batch.traceparents) {
    const spanContext = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent }, getter));
    if (spanContext) links.push({ context: spanContext });
    if (links.length === MAX_LINKS) break;
  }
  return links;
}

/** Runs one store attempt of a batch in a `collector.store_batch` span. */
export async function traceBatch(tracer: Tracer, batch: Batch, attempt: number, work: () => Promise<void>) {
  const span = tracer.startSpan(
    'collector.store_batch',
    {
      links: publisherLinks(batch),
      attributes: {
        'iot.batch.id': batch.id,
        'iot.batch.messages': batch.size,
        'iot.batch.attempt': attempt,
      },
    },
    ROOT_CONTEXT,
  );
  await runInSpan(span, work);
}
