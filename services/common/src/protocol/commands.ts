import { z } from 'zod';

// Server-to-device commands on `iot/{device_id}/command` (the original set and parameter ranges, architecture §8). The
// device-manager validates and sends them; devices (and the simulator) answer on `command/ack`.

const broker = z.strictObject({
  host: z.string().min(1).max(253),
  port: z.number().int().min(1).max(65_535),
});

/** Each command's parameters; anything not listed is refused. */
export const COMMAND_PARAMS = {
  update_config: z
    .strictObject({
      sampling_cadence_ms: z.number().int().min(100).max(60_000).optional(),
      send_interval_s: z.number().int().min(1).max(3600).optional(),
      hello_interval_s: z.number().int().min(5).max(3600).optional(),
      brokers: z.array(broker).min(1).max(5).optional(),
    })
    .refine((p) => Object.keys(p).length > 0, 'needs at least one setting'),
  start_ota: z.strictObject({
    fw_version: z.string().min(1).max(64),
    fw_url: z.url({ protocol: /^https?$/ }),
    fw_sha256: z.string().regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hex digits'),
    fw_size_bytes: z.number().int().positive(),
  }),
  reboot: z.strictObject({}),
  factory_reset: z.strictObject({}),
  request_status: z.strictObject({}),
} as const;

export type CommandName = keyof typeof COMMAND_PARAMS;
export const COMMAND_NAMES = Object.keys(COMMAND_PARAMS) as CommandName[];

/** What a device receives. */
export const commandMessageSchema = z.object({
  v: z.literal(2),
  cmd_id: z.uuid(),
  ts: z.string(),
  cmd: z.enum(COMMAND_NAMES as [CommandName, ...CommandName[]]),
  params: z.record(z.string(), z.unknown()),
});

export type CommandMessage = z.infer<typeof commandMessageSchema>;
