import { z } from 'zod';

/** The simulator's environment (flags carry the rest; see cli-options.ts). */
export const simulatorEnv = z.object({
  // In a cluster: serve /healthz, /readyz and /metrics on this port.
  PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  // The broker (--mqtt-url wins); credentials when it wants them.
  MQTT_URL: z.string().optional(),
  MQTT_USERNAME: z.string().optional(),
  MQTT_PASSWORD: z.string().optional(),
  // For --register: the device-manager and an operator key.
  API_URL: z.url().optional(),
  API_KEY: z.string().optional(),
});

export type SimulatorEnv = z.output<typeof simulatorEnv>;
