import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import type { DeviceReads } from '../devices/device-reads.js';
import { deviceIdParam } from '../devices/devices.schema.js';
import { ApiError } from '../http/api-errors.js';
import { setNextPage } from '../http/next-page.js';
import { errors, json, jsonBody, pageHeaders, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { acknowledgeAlert, findAlerts, insertAlert, resolveAlert } from './alerts.repository.js';
import {
  type Alert,
  alertIdParam,
  alertSchema,
  createAlertBody,
  listAlertsQuery,
  listAllAlertsQuery,
} from './alerts.schema.js';

const tags = ['alerts'];

type AlertRow = Awaited<ReturnType<typeof insertAlert>>;

function toAlert(row: AlertRow): Alert {
  return {
    id: row.id,
    device_id: row.device_id,
    alert_type: row.alert_type,
    severity: row.severity as Alert['severity'],
    message: row.message ?? '',
    acknowledged: row.acknowledged,
    acknowledged_by: row.acknowledged_by,
    acknowledged_at: row.acknowledged_at?.toISOString() ?? null,
    resolved_at: row.resolved_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    rule_id: row.rule_id,
    value: row.value,
    started_at: row.started_at?.toISOString() ?? null,
  };
}

function alertNotFound(): never {
  throw new ApiError('alert_not_found', 'Alert not found');
}

/** The original API's alert routes (per device, create, acknowledge), plus a list across devices and resolve. */
export function createAlertsRoutes(
  db: Kysely<Database>,
  devices: DeviceReads,
  notificationTargets: readonly string[],
) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/alerts',
      tags,
      security,
      summary: 'A device’s alerts, newest first',
      request: { params: deviceIdParam, query: listAlertsQuery },
      responses: {
        200: { ...json(z.array(alertSchema), 'one page of alerts'), headers: pageHeaders },
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      await devices.require(device_id);
      const { items, next } = await findAlerts(db, { ...c.req.valid('query'), device_id });
      setNextPage(c, next);
      return c.json(items.map(toAlert), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/alerts',
      tags,
      security,
      summary: 'Alerts across all devices, newest first',
      request: { query: listAllAlertsQuery },
      responses: {
        200: { ...json(z.array(alertSchema), 'one page of alerts'), headers: pageHeaders },
        ...errors(400),
      },
    }),
    async (c) => {
      const { items, next } = await findAlerts(db, c.req.valid('query'));
      setNextPage(c, next);
      return c.json(items.map(toAlert), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices/{device_id}/alerts',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Raise an alert for a device',
      request: { params: deviceIdParam, body: jsonBody(createAlertBody) },
      responses: { 201: json(alertSchema, 'the new alert'), ...errors(400, 404, 413, 415) },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      await devices.require(device_id);
      const alert = await insertAlert(db, { device_id, ...c.req.valid('json') });
      return c.json(toAlert(alert), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/alerts/{alert_id}/acknowledge',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Acknowledge an alert, recording who and when (again: no change)',
      request: { params: alertIdParam },
      responses: { 200: json(alertSchema, 'the alert'), ...errors(400, 404) },
    }),
    async (c) => {
      const alert = await acknowledgeAlert(db, c.req.valid('param').alert_id, c.get('principal').name);
      if (!alert) alertNotFound();
      return c.json(toAlert(alert), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/alerts/{alert_id}/resolve',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Mark an alert resolved (again: no change)',
      request: { params: alertIdParam },
      responses: { 200: json(alertSchema, 'the alert'), ...errors(400, 404) },
    }),
    async (c) => {
      const alert = await resolveAlert(db, c.req.valid('param').alert_id, notificationTargets);
      if (!alert) alertNotFound();
      return c.json(toAlert(alert), 200);
    },
  );

  return app;
}
