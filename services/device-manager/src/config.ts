import { databaseEnv, influxEnv, s3Env, serviceEnv } from '@iot-meter/common';
import type { z } from 'zod';

export const deviceManagerConfig = serviceEnv(8080)
  .extend(databaseEnv.shape)
  .extend(influxEnv.shape)
  .extend(s3Env.shape);

export type DeviceManagerConfig = z.output<typeof deviceManagerConfig>;
