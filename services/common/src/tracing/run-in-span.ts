import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/** Runs `work` with `span` active, records a failure on it, and ends it either way. */
export async function runInSpan<T>(span: Span, work: () => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(context.active(), span), work);
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
