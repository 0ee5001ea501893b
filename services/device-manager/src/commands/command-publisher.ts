import {
  type CommandMessage,
  deviceTopic,
  type Logger,
  type MqttClientOptions,
  reconnectWithBackoff,
} from '@iot-meter/common';
import mqtt from 'mqtt';

/** Sends commands to devices; resolves once the broker acknowledged the publish. */
export type CommandPublisher = {
  publish(deviceId: string, message: CommandMessage): Promise<void>;
  /** Whether the broker connection is up (a publish now can succeed). */
  isConnected(): boolean;
  close(): Promise<void>;
};

/**
 * An MQTT 5 connection of its own (clean session, reconnecting with backoff). A publish fails at once while
 * disconnected and after `timeoutMs` without a PUBACK: the command stays pending and the
 * dispatcher sends it again (devices tell repeats apart by `cmd_id`).
 */
export function createCommandPublisher(
  options: MqttClientOptions & {
    url: string;
    clientId: string;
    timeoutMs: number;
    logger: Logger;
  },
): CommandPublisher {
  const client = mqtt.connect(options.url, {
    clientId: options.clientId,
    username: options.username,
    password: options.password,
    ca: options.ca,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: options.timeoutMs,
  });
  reconnectWithBackoff(client);
  client.on('error', (err) => options.logger.warn({ err }, 'mqtt error'));
  return {
    async publish(deviceId, message) {
      if (!client.connected) throw new Error('not connected to the broker');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error('the broker did not acknowledge in time')),
          options.timeoutMs,
        );
      });
      try {
        await Promise.race([
          client.publishAsync(deviceTopic(deviceId, 'command'), JSON.stringify(message), { qos: 1 }),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    isConnected: () => client.connected,
    close: () => client.endAsync(),
  };
}
