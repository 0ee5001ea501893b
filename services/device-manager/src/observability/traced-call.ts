import { runInSpan } from '@iot-meter/common';
import { type Attributes, SpanKind, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@iot-meter/device-manager');

/**
 * Runs a call to InfluxDB or the object store in a client span. Their clients load as ES modules,
 * which the HTTP instrumentation cannot hook (it hooks `require`), so the spans are made here.
 */
export function tracedCall<T>(name: string, attributes: Attributes, call: () => Promise<T>): Promise<T> {
  return runInSpan(tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }), call);
}
