import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import { ApiError } from '../http/api-errors.js';
import { setNextPage } from '../http/cursor.js';
import { describeIssue } from '../http/describe-issue.js';
import { errors, json, jsonBody, pageHeaders, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { IMPORT_TYPES, type ImportError, readImportFile } from './device-import.js';
import {
  type DeviceRow,
  deleteDevice,
  findDevice,
  findDevices,
  type ImportedDevice,
  insertDevice,
  recordHeartbeat,
  setConnectionStatus,
  updateDevice,
  upsertDevices,
} from './devices.repository.js';
import {
  createDeviceBody,
  type Device,
  deviceIdParam,
  deviceSchema,
  deviceStatusSchema,
  importDeviceRow,
  importResultSchema,
  listDevicesQuery,
  setStatusBody,
  updateDeviceBody,
} from './devices.schema.js';

const tags = ['devices'];
const message = z.object({ message: z.string() });

export function toDevice({ created_at_key: _, ...row }: DeviceRow): Device {
  return {
    ...row,
    last_seen: row.last_seen?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function notFound(): never {
  throw new ApiError('device_not_found', 'Device not found');
}

/** The seed's device registry routes, plus paging, filters and presence. */
export function createDevicesRoutes(db: Kysely<Database>) {
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
      const { items, next } = await findDevices(
        db,
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
      return c.json(items.map(toDevice), 200);
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
      const device = await findDevice(db, c.req.valid('param').device_id);
      if (!device) notFound();
      return c.json(toDevice(device), 200);
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
      responses: { 201: json(deviceSchema, 'the new device'), ...errors(400, 409, 413, 415) },
    }),
    async (c) => {
      const device = await insertDevice(db, c.req.valid('json'));
      if (!device) throw new ApiError('device_exists', 'Device with this ID already exists', 'device_id');
      return c.json(toDevice(device), 201);
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
      if (!device) notFound();
      return c.json(toDevice(device), 200);
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
      if (!(await deleteDevice(db, c.req.valid('param').device_id))) notFound();
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
      if (!(await recordHeartbeat(db, c.req.valid('param').device_id))) notFound();
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
      const device = await findDevice(db, c.req.valid('param').device_id);
      if (!device) notFound();
      const { device_id, connection_status, last_seen, fw_version } = toDevice(device);
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
      if (!device) notFound();
      return c.json(toDevice(device), 200);
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
      const errors: ImportError[] = [];
      const devices = new Map<string, { line: number; device: ImportedDevice }>();
      for (const row of readImportFile(type, await c.req.text())) {
        if (!('fields' in row)) {
          errors.push(row);
          continue;
        }
        const parsed = importDeviceRow.safeParse(row.fields);
        if (!parsed.success) {
          const { field, message } = describeIssue(parsed.error);
          errors.push({ line: row.line, error: message, field });
          continue;
        }
        const earlier = devices.get(parsed.data.device_id);
        if (earlier) {
          errors.push({
            line: row.line,
            error: `device_id repeats line ${earlier.line}`,
            field: 'device_id',
          });
          continue;
        }
        devices.set(parsed.data.device_id, { line: row.line, device: parsed.data });
      }
      const { created, updated } = await upsertDevices(
        db,
        [...devices.values()].map((d) => d.device),
      );
      return c.json(
        {
          created: created.length,
          updated: updated.length,
          unchanged: devices.size - created.length - updated.length,
          failed: errors.length,
          errors: errors.sort((a, b) => a.line - b.line),
        },
        200,
      );
    },
  );

  return app;
}
