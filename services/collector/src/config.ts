import { databaseEnv, influxEnv, mqttEnv, s3Env, serviceEnv } from '@iot-meter/common';
import { z } from 'zod';

export const collectorConfig = serviceEnv(8081)
  .extend(mqttEnv.shape)
  .extend(influxEnv.shape)
  .extend(s3Env.shape)
  .extend(databaseEnv.shape)
  .extend({
    MQTT_SHARE_GROUP: z
      .string()
      .regex(/^[^/#+]+$/, 'must not contain / # or +')
      .default('collectors'),
    // Stable per replica (the StatefulSet pod name): Mosquitto keeps a member's queued share under it.
    MQTT_CLIENT_ID: z.string().min(1).max(128).default('collector-0'),
  });

export type CollectorConfig = z.output<typeof collectorConfig>;
