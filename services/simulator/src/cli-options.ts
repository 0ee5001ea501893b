import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError } from '@iot-meter/common';
import { z } from 'zod';
import { MODEL_NAMES, type ModelName } from './device-models.js';
import type { FleetOptions } from './fleet.js';

export const HELP = `Usage: npm run -w services/simulator start -- [options]

Simulates a fleet of devices publishing to MQTT, each on its own connection.

Fleet
  --devices N            devices (default 10)
  --prefix P             device ids are P001, P002, … (default sim-)
  --types LIST           models with weights: env (temperature, humidity), dc (750 V DC traction
                         meter), ac (25 kV AC traction meter); e.g. env:2,dc:1 (default env,dc,ac)
  --seed S               same seed, same values (default: random, printed in the summary)
  --payload v1|v2        telemetry format (default v2; hello, status and acks are always v2)
  --sampling-ms MS       sampling cadence (default 1000)
  --send-interval S      seconds between telemetry messages (default 10)
  --hello-interval S     seconds between hellos (default 30)
  --buffer-samples N     samples a device keeps while it cannot send (default 3600)
  --faults-per-day N     how often a device's readings go wrong for a while (default 2)
  --fw-version V         firmware the devices report (default 2.1.0)
  --reboot-ms MS         how long a reboot takes (default 3000)
  --ota-step-ms MS       time between OTA progress reports (default 1000)

Load
  --rate N               telemetry messages per second for the whole fleet (default: no limit)
  --connect-rate N       new connections per second while starting (default 1000)
  --duration S           stop after S seconds
  --messages N           stop once N telemetry messages are acknowledged

Broker and API
  --mqtt-url URL         (env MQTT_URL, default mqtt://127.0.0.1:1883); MQTT_CA_FILE: a PEM bundle
                         of CAs to trust for mqtts://
  --register             register the fleet through the device-manager first (env API_URL, API_KEY):
                         each device is issued new credentials and connects with them; without it
                         every device uses MQTT_USERNAME and MQTT_PASSWORD, if set

Output
  --json                 print a JSON summary (and no progress)
  --help                 this text`;

const positive = z.coerce.number().positive();
const flags = z.object({
  devices: positive.int().default(10),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,100}$/, 'must start a device id')
    .default('sim-'),
  types: z
    .string()
    .default('env,dc,ac')
    .transform((list, ctx) => {
      try {
        return parseTypes(list);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  seed: z
    .string()
    .min(1)
    .default(() => randomBytes(4).toString('hex')),
  payload: z.enum(['v1', 'v2']).default('v2'),
  'sampling-ms': positive.int().min(100).max(60_000).default(1000),
  'send-interval': positive.int().max(3600).default(10),
  'hello-interval': positive.int().min(5).max(3600).default(30),
  'buffer-samples': positive.int().default(3600),
  'faults-per-day': z.coerce.number().min(0).default(2),
  'fw-version': z.string().min(1).max(64).default('2.1.0'),
  'reboot-ms': z.coerce.number().int().min(0).default(3000),
  'ota-step-ms': z.coerce.number().int().min(0).default(1000),
  rate: positive.optional(),
  'connect-rate': positive.default(1000),
  duration: positive.optional(),
  messages: positive.int().optional(),
  'mqtt-url': z.string().optional(),
  register: z.boolean().default(false),
  json: z.boolean().default(false),
  help: z.boolean().default(false),
});

export type CliOptions = {
  fleet: FleetOptions;
  mqttUrl: string;
  durationS?: number;
  messages?: number;
  register: boolean;
  json: boolean;
  help: boolean;
};

/** `env:2,dc:1` → { env: 2, dc: 1 }; a name alone weighs 1. */
export function parseTypes(list: string): Partial<Record<ModelName, number>> {
  const types: Partial<Record<ModelName, number>> = {};
  for (const part of list.split(',').map((p) => p.trim())) {
    const [name, weight = '1'] = part.split(':');
    if (!(MODEL_NAMES as string[]).includes(name ?? '')) {
      throw new Error(`unknown model '${name}' (${MODEL_NAMES.join(', ')})`);
    }
    const n = Number(weight);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new Error(`weight of ${name} must be 1–100`);
    types[name as ModelName] = n;
  }
  return types;
}

/** Reads the command line (and MQTT_URL); throws a `ConfigError` naming every bad flag. */
export function parseCli(argv: string[], env: { MQTT_URL?: string }): CliOptions {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.keys(flags.shape).map((name) => [
        name,
        { type: ['register', 'json', 'help'].includes(name) ? 'boolean' : 'string' },
      ]),
    ) as Record<string, { type: 'string' | 'boolean' }>,
    strict: true,
  });
  const parsed = flags.safeParse(values);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `--${String(issue.path[0])}: ${issue.message}`));
  }
  const f = parsed.data;
  return {
    fleet: {
      devices: f.devices,
      prefix: f.prefix,
      types: f.types,
      seed: f.seed,
      payloadVersion: f.payload === 'v1' ? 1 : 2,
      settings: {
        samplingCadenceMs: f['sampling-ms'],
        sendIntervalS: f['send-interval'],
        helloIntervalS: f['hello-interval'],
      },
      fwVersion: f['fw-version'],
      bufferSamples: f['buffer-samples'],
      faultsPerDay: f['faults-per-day'],
      rate: f.rate ?? Number.POSITIVE_INFINITY,
      connectRate: f['connect-rate'],
      rebootMs: f['reboot-ms'],
      otaStepMs: f['ota-step-ms'],
    },
    mqttUrl: f['mqtt-url'] ?? env.MQTT_URL ?? 'mqtt://127.0.0.1:1883',
    durationS: f.duration,
    messages: f.messages,
    register: f.register,
    json: f.json,
    help: f.help,
  };
}
