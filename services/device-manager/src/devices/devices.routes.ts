import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import { ApiError } from '../http/api-errors.js';
import { cachedJson } from '../http/cached-json.js';
import { setNextPage } from '../http/next-page.js';
import { errors, json, jsonBody, pageHeaders, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { IMPORT_TYPES, parseImportFile } from './device-import.js';
import type { DeviceReads } from './device-reads.js';
import {
  deleteDevice,
  insertDevice,
  recordHeartbeat,
  setConnectionStatus,
  updateDevice,
  upsertDevices,
} from './devices.repository.js';
import {
  createDeviceBody,
  deviceIdParam,
  deviceSchema,
  deviceStatusSchema,
  importQuery,
  importResultSchema,
  listDevicesQuery,
  registeredDeviceSchema,
  setStatusBody,
  updateDeviceBody,
} from './devices.schema.js';

const tags = ['devices'];
const message = z.object({ message: z.string() });

function notFound(): never {
  throw new ApiError('device_not_found', 'Device not found');
}

/**
 * The original API's device registry routes, plus paging, filters and presence. Reads go through
 * `devices`; each write tells it the registry changed.
 */
export function createDevicesRoutes(db: Kysely<Database>, devices: DeviceReads) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices',
      tags,
      security,
      summary: 'List devices, newest first; pages via the Link / X-Next-Cursor headers',
      request: { query: listDevicesQuery },
      responses: {
        200: {
          ...json(z.array(deviceSchema), 'one page of devices'),
          headers: pageHeaders,
        },
        ...errors(400),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const labels = Object.fromEntries(
        q.label.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
      );
      const { items, next } = await devices.list(
        {
          status: q.status,
          type: q.type,
          connectionStatus: q.connection_status,
          location: q.location,
          labels,
        },
        { sort: q.sort, limit: q.limit, cursor: q.cursor },
      );
      setNextPage(c, next);
      return cachedJson(c, items);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}',
      tags,
      security,
      summary: 'Get one device with its presence',
      request: { params: deviceIdParam },
      responses: { 200: json(deviceSchema, 'the device'), ...errors(400, 404) },
    }),
    async (c) => {
      const device = await devices.find(c.req.valid('param').device_id);
      if (!device) notFound();
      return cachedJson(c, device);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Register a device',
      request: { body: jsonBody(createDeviceBody) },
      responses: {
        201: json(registeredDeviceSchema, 'the new device and its MQTT credentials (shown once)'),
        ...errors(400, 409, 413, 415),
      },
    }),
    async (c) => {
      const registered = await insertDevice(db, c.req.valid('json'));
      devices.changed();
      if (!registered) throw new ApiError('device_exists', 'Device with this ID already exists', 'device_id');
      return c.json({ ...registered.device, mqtt_credentials: registered.credentials }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/devices/{device_id}',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Update some of a device’s fields',
      request: { params: deviceIdParam, body: jsonBody(updateDeviceBody) },
      responses: { 200: json(deviceSchema, 'the updated device'), ...errors(400, 404, 413, 415) },
    }),
    async (c) => {
      const fields = c.req.valid('json');
      if (Object.values(fields).every((v) => v === undefined)) {
        throw new ApiError('invalid_request', 'No fields to update');
      }
      const device = await updateDevice(db, c.req.valid('param').device_id, fields);
      devices.changed();
      if (!device) notFound();
      return c.json(device, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/devices/{device_id}',
      tags,
      security,
      middleware: [requireRole('admin')],
      summary: 'Delete a device with its alerts and commands (its time series and archive stay)',
      request: { params: deviceIdParam },
      responses: { 200: json(message, 'deleted'), ...errors(400, 404) },
    }),
    async (c) => {
      const deleted = await deleteDevice(db, c.req.valid('param').device_id);
      devices.changed();
      if (!deleted) notFound();
      return c.json({ message: 'Device deleted successfully' }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices/{device_id}/heartbeat',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Record that the device was seen now',
      request: { params: deviceIdParam },
      responses: { 200: json(message, 'recorded'), ...errors(400, 404) },
    }),
    async (c) => {
      const recorded = await recordHeartbeat(db, c.req.valid('param').device_id);
      devices.changed();
      if (!recorded) notFound();
      return c.json({ message: 'Heartbeat received' }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/status',
      tags,
      security,
      summary: 'Connection status, last seen and firmware version',
      request: { params: deviceIdParam },
      responses: { 200: json(deviceStatusSchema, 'the device’s presence'), ...errors(400, 404) },
    }),
    async (c) => {
      const device = await devices.find(c.req.valid('param').device_id);
      if (!device) notFound();
      const { device_id, connection_status, last_seen, fw_version } = device;
      return c.json({ device_id, connection_status, last_seen, fw_version }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/devices/{device_id}/status',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Set the connection status by hand (collectors keep it current from MQTT)',
      request: { params: deviceIdParam, body: jsonBody(setStatusBody) },
      responses: { 200: json(deviceSchema, 'the device'), ...errors(400, 404, 413, 415) },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const device = await setConnectionStatus(
        db,
        c.req.valid('param').device_id,
        body.connection_status,
        body.fw_version,
      );
      devices.changed();
      if (!device) notFound();
      return c.json(device, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices/import',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Register or update many devices from NDJSON or CSV; bad rows are reported, the rest applied',
      request: {
        query: importQuery,
        body: {
          content: Object.fromEntries(
            IMPORT_TYPES.map((type) => [type, { schema: z.string().openapi({ description: 'the file' }) }]),
          ),
          required: true,
        },
      },
      responses: { 200: json(importResultSchema, 'what the import did'), ...errors(400, 413, 415) },
    }),
    async (c) => {
      const type = IMPORT_TYPES.find((t) => (c.req.header('content-type') ?? '').toLowerCase().startsWith(t));
      if (!type) {
        throw new ApiError('unsupported_media_type', `the file must be ${IMPORT_TYPES.join(' or ')}`);
      }
      const imported = parseImportFile(type, await c.req.text());
      const { created, updated, credentials } = await upsertDevices(db, imported.devices, {
        reissueCredentials: c.req.valid('query').credentials === 'all',
      });
      devices.changed();
      return c.json(
        {
          created: created.length,
          updated: updated.length,
          unchanged: imported.devices.length - created.length - updated.length,
          failed: imported.errors.length,
          errors: imported.errors,
          credentials,
        },
        200,
      );
    },
  );

  return app;
}
