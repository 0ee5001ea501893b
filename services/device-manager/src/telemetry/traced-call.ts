import { type Attributes, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@iot-meter/device-manager');

/**
 * Runs a call to InfluxDB or the object store in a client span. Their clients load as ES modules,
 * which the HTTP instrumentation cannot hook (it hooks `require`), so the spans are made here.
 */
export function tracedCall<T>(name: string, attributes: Attributes, call: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await call();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}
