import { databaseEnv, serviceEnv } from '@iot-meter/common';
import { z } from 'zod';

export const brokerAccountsConfig = serviceEnv(8081)
  .extend(databaseEnv.shape)
  .extend({
    // The broker's password file (devices and services); this process owns it.
    BROKER_PASSWORD_FILE: z.string().min(1),
    // How to find the broker to SIGHUP: its pid file, else the process of this name (the chart's
    // broker pod shares its process namespace with this sidecar).
    BROKER_PID_FILE: z.string().min(1).optional(),
    BROKER_PROCESS_NAME: z.string().min(1).default('mosquitto'),
    // The services' listener, where the sync's canary account proves each reload happened.
    BROKER_SERVICE_URL: z.url({ protocol: /^(mqtt|mqtts)$/ }),
    // A file per service account (a mounted Secret): name `collector` → account `@collector`.
    BROKER_SERVICE_ACCOUNTS_DIR: z.string().min(1),
    // A full pass this often, whether or not a change was notified.
    BROKER_ACCOUNTS_RESYNC_MS: z.coerce.number().int().positive().default(30_000),
  });
