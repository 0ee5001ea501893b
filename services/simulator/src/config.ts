import { ConfigError, type Env, loadConfig, logLevelEnv, mqttEnv } from '@iot-meter/common';
import { z } from 'zod';
import { type CliOptions, parseCli } from './cli-options.js';

/** The simulator's environment (flags carry the rest; see cli-options.ts). */
export const simulatorEnv = logLevelEnv.extend({
  // In a cluster: serve /healthz, /readyz and /metrics on this port.
  PORT: z.coerce.number().int().min(1).max(65_535).optional(),
  // The broker (--mqtt-url wins); credentials when it wants them.
  ...mqttEnv.partial().shape,
  // For --register: the device-manager and an operator key.
  API_URL: z.url().optional(),
  API_KEY: z.string().optional(),
});

export type SimulatorEnv = z.output<typeof simulatorEnv>;

export type SimulatorConfig = { env: SimulatorEnv; options: CliOptions };

/**
 * Reads the environment and the command line together; a pure function of both. Throws one
 * `ConfigError` that lists every bad variable and flag.
 */
export function loadSimulatorConfig(argv: string[], env: Env): SimulatorConfig {
  const problems: string[] = [];
  let parsedEnv: SimulatorEnv | undefined;
  try {
    parsedEnv = loadConfig(simulatorEnv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  let options: CliOptions | undefined;
  try {
    options = parseCli(argv, { MQTT_URL: parsedEnv?.MQTT_URL });
  } catch (err) {
    problems.push(...(err instanceof ConfigError ? err.problems : [(err as Error).message]));
  }
  if (options?.register && parsedEnv && (!parsedEnv.API_URL || !parsedEnv.API_KEY)) {
    problems.push('--register needs API_URL and API_KEY (an operator key)');
  }
  if (problems.length > 0 || !parsedEnv || !options) throw new ConfigError(problems);
  return { env: parsedEnv, options };
}
