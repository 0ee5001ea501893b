import { z } from 'zod';

// Environment variables shared by the services, named by their dependency
// (architecture §7). Each service composes the groups it needs into its own schema.

const url = (protocols: readonly string[]) => z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) });

const port = z.coerce.number().int().min(1).max(65535);

/** A comma-separated list (spaces around entries ignored, empty entries dropped); unset is empty. */
export const commaList = () =>
  z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((entry) => entry.trim())
        .filter(Boolean),
    );

export const logLevelEnv = z.object({
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** `PORT` (with this service's default) and `LOG_LEVEL`. */
export const serviceEnv = (defaultPort: number) =>
  z.object({ PORT: port.default(defaultPort), ...logLevelEnv.shape });

export const mqttEnv = z.object({
  MQTT_URL: url(['mqtt', 'mqtts', 'tcp', 'ssl', 'ws', 'wss']),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  // A PEM bundle of the CAs to trust for mqtts:// (a private CA, cert-manager's): read by
  // loadMqttClientOptions. Unset: Node's default roots.
  MQTT_CA_FILE: z.string().min(1).optional(),
});

export const databaseEnv = z.object({
  DATABASE_URL: url(['postgres', 'postgresql']),
});

export const influxEnv = z.object({
  INFLUX_URL: url(['http', 'https']),
  INFLUX_TOKEN: z.string().min(1),
  INFLUX_ORG: z.string().min(1).default('iot-org'),
  INFLUX_BUCKET: z.string().min(1).default('iot-metrics'),
});

export const s3Env = z.object({
  S3_ENDPOINT: url(['http', 'https']),
  S3_ACCESS_KEY: z.string().min(1),
  S3_SECRET_KEY: z.string().min(1),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
    .default('iot-data'),
});

export type LogLevelEnv = z.output<typeof logLevelEnv>;
export type ServiceEnv = z.output<ReturnType<typeof serviceEnv>>;
export type MqttEnv = z.output<typeof mqttEnv>;
export type DatabaseEnv = z.output<typeof databaseEnv>;
export type InfluxEnv = z.output<typeof influxEnv>;
export type S3Env = z.output<typeof s3Env>;
