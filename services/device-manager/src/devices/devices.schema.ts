import { z } from '@hono/zod-openapi';
import { DEVICE_ID_PATTERN } from '@iot-meter/common';
import { canBeBrokerUsername } from '../broker-accounts/broker-password.js';
import { storableObject, storableText } from '../http/storable.js';

export const deviceId = z
  .string()
  .regex(
    DEVICE_ID_PATTERN,
    'must be 1 to 128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit',
  );

/**
 * The id of a device registered now: also its MQTT username, which Mosquitto's password file ends at
 * the first ':' (docs/security.md). Devices registered with a ':' before keep their id.
 */
const newDeviceId = deviceId.refine(canBeBrokerUsername, {
  message: "must not contain ':' (it is the device's MQTT username)",
});

export const deviceIdParam = z.object({
  device_id: deviceId.openapi({ param: { name: 'device_id', in: 'path' }, example: 'device-001' }),
});

// The original API's own tests send metadata as a string holding JSON; an object is the documented form.
const metadata = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}, storableObject());

const text = (max: number) => storableText().min(1).max(max);

export const createDeviceBody = z
  .object({
    device_id: newDeviceId,
    device_name: text(255),
    device_type: text(100).nullish(),
    location: text(255).nullish(),
    status: text(50).default('active'),
    metadata: metadata.optional(),
  })
  .openapi('DeviceCreate');

/** A row of a bulk import: as a new device, except that a status left out keeps the current one. */
export const importDeviceRow = createDeviceBody.extend({ status: text(50).optional() });

/** MQTT credentials as issued: shown once, stored only as a hash. */
export const credentialsSchema = z
  .object({
    device_id: z.string(),
    username: z.string(),
    password: z.string().openapi({ description: 'shown only in this answer; store it on the device' }),
    issued_at: z.iso.datetime(),
  })
  .openapi('DeviceCredentials');

export const importResultSchema = z
  .object({
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    failed: z.number().int(),
    errors: z.array(z.object({ line: z.number().int(), error: z.string(), field: z.string().optional() })),
    credentials: z.array(credentialsSchema).openapi({
      description: 'of the devices created (with `credentials=all`: of every device in the file), shown once',
    }),
  })
  .openapi('DeviceImportResult');

export const importQuery = z.object({
  credentials: z.enum(['new', 'all']).default('new').openapi({
    description:
      '`new`: issue credentials to the devices created; `all`: also issue new ones to the existing devices in the file (their old secrets stop working)',
  }),
});

export const updateDeviceBody = z
  .object({
    device_name: text(255).optional(),
    device_type: text(100).nullish(),
    location: text(255).nullish(),
    status: text(50).optional(),
    metadata: metadata.optional(),
  })
  .openapi('DeviceUpdate');

export const connectionStatus = z.enum(['online', 'offline', 'unknown']);

export const deviceSchema = z
  .object({
    id: z.number().int(),
    device_id: z.string(),
    device_name: z.string(),
    device_type: z.string().nullable(),
    location: z.string().nullable(),
    status: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    connection_status: connectionStatus,
    last_seen: z.iso.datetime().nullable(),
    fw_version: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
  })
  .openapi('Device');

export type Device = z.infer<typeof deviceSchema>;

/** A device just registered, with the MQTT credentials issued to it. */
export const registeredDeviceSchema = deviceSchema
  .extend({ mqtt_credentials: credentialsSchema })
  .openapi('RegisteredDevice');

const label = storableText()
  .regex(/^[^:]+:.*$/, 'must be key:value')
  .openapi({ description: 'metadata label, `key:value`; repeat to require several' });

// As in the original API, an empty filter value means no filter.
const filter = (description: string) =>
  storableText()
    .optional()
    .transform((v) => v || undefined)
    .openapi({ description });

export const listDevicesQuery = z.object({
  status: filter('registry status, e.g. active'),
  type: filter('device type'),
  connection_status: connectionStatus.optional(),
  location: filter('location'),
  label: z
    .union([label, z.array(label)])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
  sort: z.enum(['created_at', '-created_at', 'device_id', '-device_id']).default('-created_at'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional().openapi({ description: 'from the previous page’s X-Next-Cursor' }),
});

export const setStatusBody = z
  .object({
    connection_status: connectionStatus,
    fw_version: storableText().min(1).max(64).optional(),
  })
  .openapi('DeviceStatusUpdate');

export const deviceStatusSchema = z
  .object({
    device_id: z.string(),
    connection_status: connectionStatus,
    last_seen: z.iso.datetime().nullable(),
    fw_version: z.string().nullable(),
  })
  .openapi('DeviceStatus');
