import { trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Request counts and latency by method, route template and status (unmatched paths share one
 * label), and the route on the request's trace span (which the HTTP instrumentation opens).
 */
export function observeRequests(registry: Registry): MiddlewareHandler {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return async (c, next) => {
    const started = performance.now();
    await next();
    const template = routePath(c, -1);
    const labels = {
      method: c.req.method,
      route: template.includes('*') ? 'unmatched' : template,
      status: String(c.res.status),
    };
    requests.inc(labels);
    const span = trace.getActiveSpan();
    span?.setAttribute('http.route', labels.route);
    span?.updateName(`${labels.method} ${labels.route}`);
    duration.observe(labels, (performance.now() - started) / 1000);
  };
}
