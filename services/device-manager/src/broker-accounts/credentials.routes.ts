import { createRoute } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import { credentialsSchema, deviceIdParam } from '../devices/devices.schema.js';
import { ApiError } from '../http/api-errors.js';
import { errors, json, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { canBeBrokerUsername } from './broker-password.js';
import { rotateCredentials } from './device-credentials.repository.js';

/** Rotating a device's MQTT credentials: the new secret is shown once, the old one stops working. */
export function createCredentialsRoutes(db: Kysely<Database>) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices/{device_id}/credentials',
      tags: ['devices'],
      security,
      middleware: [requireRole('operator')],
      summary: 'Issue new MQTT credentials; the old secret is refused within seconds',
      request: { params: deviceIdParam },
      responses: { 201: json(credentialsSchema, 'the new credentials (shown once)'), ...errors(400, 404) },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      if (!canBeBrokerUsername(device_id)) {
        throw new ApiError(
          'invalid_request',
          "a device id with ':' cannot be an MQTT username; register the device under another id",
          'device_id',
        );
      }
      const credentials = await rotateCredentials(db, device_id);
      if (!credentials) throw new ApiError('device_not_found', 'Device not found');
      return c.json(credentials, 201);
    },
  );

  return app;
}
