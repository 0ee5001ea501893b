import { randomBytes } from 'node:crypto';
import type { MqttEnv, ReadinessCheck } from '@iot-meter/common';
import mqtt from 'mqtt';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { SYS_PREFIX, SysFigures } from './sys-figures.js';

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
export function startBrokerExporter(config: MqttEnv, logger: Logger, registry: Registry): BrokerExporter {
  const figures = new SysFigures(registry);
  const client = mqtt.connect(config.MQTT_URL, {
    clientId: `broker-exporter-${randomBytes(4).toString('hex')}`,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 5000,
    ...(config.MQTT_USERNAME !== undefined && { username: config.MQTT_USERNAME }),
    ...(config.MQTT_PASSWORD !== undefined && { password: config.MQTT_PASSWORD }),
  });
  new Gauge({
    name: 'mosquitto_up',
    help: '1 while the exporter is connected to the broker and has its $SYS figures',
    registers: [registry],
    collect() {
      this.set(client.connected && figures.size > 0 ? 1 : 0);
    },
  });
  client.on('connect', () => {
    logger.info({ url: config.MQTT_URL }, 'connected to the broker');
    client.subscribe(`${SYS_PREFIX}#`, { qos: 0 }, (err) => {
      if (err) logger.error({ err }, 'cannot subscribe to $SYS');
    });
  });
  client.on('message', (topic, payload) => figures.update(topic, payload.toString('utf8')));
  client.on('offline', () => logger.warn({ url: config.MQTT_URL }, 'broker unreachable; reconnecting'));
  client.on('error', (err) => logger.warn({ err: err.message }, 'broker connection error'));
  return {
    figures,
    readiness: {
      name: 'broker',
      check: async () => {
        if (!client.connected) throw new Error('not connected');
      },
    },
    stop: async () => {
      await client.endAsync();
    },
  };
}
