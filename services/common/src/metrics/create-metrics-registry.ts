import { collectDefaultMetrics, Registry } from 'prom-client';

/** A registry per service, labelled with the service name, with Node's process metrics. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
