import { createRoute, z } from '@hono/zod-openapi';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import { errors, idParam, json, jsonBody, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { storableText } from '../http/storable.js';
import { generateApiKey } from './api-key-secret.js';
import { findApiKeys, insertApiKey, revokeApiKey } from './api-keys.repository.js';
import { requireRole } from './authenticate.js';
import { ROLES } from './principal.js';

const tags = ['api keys'];

const apiKeySchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    role: z.enum(ROLES),
    key_prefix: z.string(),
    created_by: z.string(),
    created_at: z.iso.datetime(),
    last_used_at: z.iso.datetime().nullable(),
    revoked_at: z.iso.datetime().nullable(),
  })
  .openapi('ApiKey');

type ApiKeyRow = Awaited<ReturnType<typeof insertApiKey>>;

function toApiKey(row: ApiKeyRow): z.infer<typeof apiKeySchema> {
  return {
    ...row,
    role: row.role as (typeof ROLES)[number],
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/** Admin-only management of API keys. A new key's secret is shown once, in the creation answer. */
export function createApiKeysRoutes(db: Kysely<Database>, onRevoke: () => void) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/keys',
      tags,
      security,
      middleware: [requireRole('admin')],
      summary: 'Create an API key',
      request: {
        body: jsonBody(
          z.object({ name: storableText().min(1).max(100), role: z.enum(ROLES) }).openapi('ApiKeyCreate'),
        ),
      },
      responses: {
        201: json(
          apiKeySchema.extend({ key: z.string().openapi({ description: 'the secret; shown only now' }) }),
          'the new key',
        ),
        ...errors(400, 413, 415),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const generated = generateApiKey();
      const row = await insertApiKey(db, {
        name: body.name,
        role: body.role,
        prefix: generated.prefix,
        hash: generated.hash,
        createdBy: c.get('principal').name,
      });
      return c.json({ ...toApiKey(row), key: generated.key }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/keys',
      tags,
      security,
      middleware: [requireRole('admin')],
      summary: 'List API keys (never their secrets)',
      request: {
        query: z.object({
          include_revoked: z
            .enum(['true', 'false'])
            .default('false')
            .transform((v) => v === 'true'),
        }),
      },
      responses: { 200: json(z.array(apiKeySchema), 'the keys'), ...errors(400) },
    }),
    async (c) => {
      const rows = await findApiKeys(db, { includeRevoked: c.req.valid('query').include_revoked });
      return c.json(rows.map(toApiKey), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/keys/{key_id}',
      tags,
      security,
      middleware: [requireRole('admin')],
      summary: 'Revoke an API key',
      request: {
        params: idParam('key_id'),
      },
      responses: { 200: json(apiKeySchema, 'the revoked key'), ...errors(400, 404) },
    }),
    async (c) => {
      const row = await revokeApiKey(db, c.req.valid('param').key_id);
      if (!row) throw new ApiError('api_key_not_found', 'API key not found');
      onRevoke();
      return c.json(toApiKey(row), 200);
    },
  );

  return app;
}
