import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { Gauge, type Registry } from 'prom-client';
import { CONNECTION_STATES, findDeviceCountsByConnection } from './stats.repository.js';

/**
 * `iot_devices{connection_status}`, counted in PostgreSQL at each scrape: the fleet dashboard's
 * devices online. Every replica exports the same figure (dashboards take the max).
 */
export function registerFleetGauge(registry: Registry, db: Kysely<Database>): void {
  new Gauge({
    name: 'iot_devices',
    help: 'Registered devices by connection status',
    labelNames: ['connection_status'],
    registers: [registry],
    async collect() {
      const counts = await findDeviceCountsByConnection(db);
      for (const state of CONNECTION_STATES) this.set({ connection_status: state }, counts[state] ?? 0);
    },
  });
}
