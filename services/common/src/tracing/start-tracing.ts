import type { Env } from '../config/load-config.js';

/**
 * Starts OpenTelemetry tracing when an OTLP endpoint is configured; the SDK reads the standard
 * OTEL_* variables itself. Returns the stop function, or undefined when off. The SDK is loaded only
 * then: it costs tens of MiB of memory that a service without tracing should not pay.
 *
 * Incoming and outgoing HTTP (the API's requests, InfluxDB and S3 calls) and PostgreSQL queries get
 * spans. The pg instrumentation hooks `require`, so a service starts tracing before it loads `pg`:
 * it imports this module alone (`@iot-meter/common/tracing`) and the rest of itself afterwards.
 */
export async function startTracing(service: string, env: Env): Promise<(() => Promise<void>) | undefined> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { PgInstrumentation } = await import('@opentelemetry/instrumentation-pg');
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? service,
    instrumentations: [new HttpInstrumentation(), new PgInstrumentation()],
  });
  sdk.start();
  return () => sdk.shutdown();
}
