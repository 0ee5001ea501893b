import { randomBytes } from 'node:crypto';
import {
  createMqttReadiness,
  loadMqttClientOptions,
  type ReadinessCheck,
  reconnectWithBackoff,
} from '@iot-meter/common';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { BrokerExporterConfig } from '../config.js';
import { SYS_PREFIX, SysFigures } from './sys-figures.js';

const SHARED_SUBSCRIPTIONS = `${SYS_PREFIX}shared_subscriptions/count`;

export type BrokerExporter = {
  readonly figures: SysFigures;
  readonly readiness: ReadinessCheck;
  stop(): Promise<void>;
};

/**
 * Subscribes to the broker's `$SYS/broker/#` (retained, so the figures arrive at once and then
 * every `sys_interval`) and exports them on `registry`. A clean session: nothing queues for it
 * while it is away.
 */
export function startBrokerExporter(
  config: BrokerExporterConfig,
  logger: Logger,
  registry: Registry,
): BrokerExporter {
  const figures = new SysFigures(registry);
  // Seen on this connection: a broker that restarted publishes the figure only once it is above 0.
  let sharedSubscriptions = 0;
  const client = mqtt.connect(config.MQTT_URL, {
    clientId: `broker-exporter-${randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
    ...loadMqttClientOptions(config),
  });
  reconnectWithBackoff(client);
  new Gauge({
    name: 'mosquitto_up',
    help: '1 while the exporter is connected to the broker and has its $SYS figures',
    registers: [registry],
    collect() {
      this.set(client.connected && figures.size > 0 ? 1 : 0);
    },
  });
  client.on('connect', () => {
    sharedSubscriptions = 0;
    logger.info({ url: config.MQTT_URL }, 'connected to the broker');
    client.subscribe(`${SYS_PREFIX}#`, { qos: 0 }, (err) => {
      if (err) logger.error({ err }, 'cannot subscribe to $SYS');
    });
  });
  client.on('message', (topic, payload) => {
    figures.update(topic, payload.toString('utf8'));
    if (topic === SHARED_SUBSCRIPTIONS) sharedSubscriptions = Number(payload.toString('utf8'));
  });
  client.on('offline', () => logger.warn({ url: config.MQTT_URL }, 'broker unreachable; reconnecting'));
  client.on('error', (err) => logger.warn({ err: err.message }, 'broker connection error'));
  const connection = createMqttReadiness({ name: 'broker', connected: () => client.connected });
  return {
    figures,
    readiness: {
      name: connection.name,
      check: async () => {
        await connection.check();
        const wanted = config.BROKER_READY_SHARED_SUBSCRIPTIONS;
        if (sharedSubscriptions < wanted) {
          throw new Error(
            `${sharedSubscriptions} of ${wanted} shared subscriptions: collectors not subscribed yet`,
          );
        }
      },
    },
    stop: async () => {
      await client.endAsync();
    },
  };
}
