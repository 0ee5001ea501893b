import { getConnInfo } from '@hono/node-server/conninfo';
import { swaggerUI } from '@hono/swagger-ui';
import type { QueryApi } from '@influxdata/influxdb-client';
import {
  createMetricsRegistry,
  createOpsRoutes,
  type Database,
  type Logger,
  type ReadinessCheck,
} from '@iot-meter/common';
import { cors } from 'hono/cors';
import type { Kysely } from 'kysely';
import type { Client } from 'minio';
import type { Registry } from 'prom-client';
import { createAlertRulesRoutes } from './alert-rules/alert-rules.routes.js';
import { createAlertsRoutes } from './alerts/alerts.routes.js';
import { createApiKeysRoutes } from './auth/api-keys.routes.js';
import { createAuthenticator } from './auth/authenticate.js';
import { createCredentialsRoutes } from './broker-accounts/credentials.routes.js';
import type { CommandPublisher } from './commands/command-publisher.js';
import { createCommandsRoutes } from './commands/commands.routes.js';
import type { DeviceManagerConfig } from './config.js';
import { IMPORT_TYPES } from './devices/device-import.js';
import { createDeviceReads } from './devices/device-reads.js';
import { createDevicesRoutes } from './devices/devices.routes.js';
import { createAllowedMethods } from './http/allowed-methods.js';
import { ApiError, createErrorHandler, errorResponse } from './http/api-errors.js';
import { bodyRules } from './http/body-rules.js';
import { createClientAddress } from './http/client-address.js';
import { createRateLimiter } from './http/rate-limiter.js';
import { createReadCache, type ReadCache } from './http/read-cache.js';
import { createRouter } from './http/router.js';
import { observeRequests } from './observability/observe-requests.js';
import { createRawDataRoutes } from './raw-data/raw-data.routes.js';
import { registerFleetGauge } from './stats/fleet-gauge.js';
import { createStatsRoutes } from './stats/stats.routes.js';
import type { History } from './telemetry/downsampled-history.js';
import { createTelemetryRoutes } from './telemetry/telemetry.routes.js';
import { createWebhooksRoutes } from './webhooks/webhooks.routes.js';

export const SERVICE = 'device-manager';

export type AppDependencies = {
  db: Kysely<Database>;
  influx: { query: QueryApi; bucket: string; history?: History };
  archive: { store: Client; bucket: string };
  commands: CommandPublisher;
  logger: Logger;
  config: Pick<
    DeviceManagerConfig,
    | 'API_ADMIN_KEY'
    | 'API_BODY_LIMIT_BYTES'
    | 'API_IMPORT_LIMIT_BYTES'
    | 'API_RATE_LIMIT_PER_SECOND'
    | 'API_RATE_LIMIT_BURST'
    | 'API_CLIENT_RATE_LIMIT_PER_SECOND'
    | 'API_CLIENT_RATE_LIMIT_BURST'
    | 'CORS_ORIGINS'
    | 'API_TRUSTED_PROXIES'
    | 'API_METRICS_MAX_POINTS'
  >;
  registry?: Registry;
  readiness?: readonly ReadinessCheck[];
  /** Where alerts that fire or resolve are notified besides the webhooks (`alertmanager`); none by default. */
  notificationTargets?: readonly string[];
  /** Where repeated reads are answered from (service.ts); none by default. */
  caches?: { registry: ReadCache; timeSeries: ReadCache; keys: ReadCache };
};

/**
 * The REST API. Every `/api` route needs a bearer API key; `/health` (the original API's), `/healthz`,
 * `/readyz`, `/metrics`, `/openapi.json` and `/docs` are open.
 */
export function createApp(deps: AppDependencies) {
  const { db, logger, config } = deps;
  const registry = deps.registry ?? createMetricsRegistry(SERVICE);
  const app = createRouter();
  app.onError(createErrorHandler(logger.child({ module: 'http' })));
  const allowedMethods = createAllowedMethods(app);
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length === 0) return errorResponse(c, 'not_found', 'Not found');
    c.header('Allow', allowed.join(', '));
    return errorResponse(c, 'method_not_allowed', `${c.req.method} is not allowed here`);
  });
  app.use('*', observeRequests(registry));
  if (config.CORS_ORIGINS.length > 0) app.use('/api/*', cors({ origin: config.CORS_ORIGINS }));

  const clientLimit = createRateLimiter({
    perSecond: config.API_CLIENT_RATE_LIMIT_PER_SECOND,
    burst: config.API_CLIENT_RATE_LIMIT_BURST,
  });
  const keyLimit = createRateLimiter({
    perSecond: config.API_RATE_LIMIT_PER_SECOND,
    burst: config.API_RATE_LIMIT_BURST,
  });
  const limited = (verdict: ReturnType<typeof keyLimit.take>) => {
    if (!verdict.ok) {
      throw new ApiError('rate_limited', 'too many requests', undefined, verdict.retryAfterSeconds);
    }
  };
  const clientAddress = createClientAddress(config.API_TRUSTED_PROXIES);
  app.use('/api/*', async (c, next) => {
    limited(clientLimit.take(`client:${clientAddress(peerAddress(c), c.req.header('x-forwarded-for'))}`));
    await next();
  });
  app.use(
    '/api/*',
    bodyRules({
      maxBytes: config.API_BODY_LIMIT_BYTES,
      exceptions: { '/api/devices/import': { maxBytes: config.API_IMPORT_LIMIT_BYTES, types: IMPORT_TYPES } },
    }),
  );
  const caches = deps.caches ?? {
    registry: createReadCache({ ttlMs: 0 }),
    timeSeries: createReadCache({ ttlMs: 0 }),
    keys: createReadCache({ ttlMs: 0 }),
  };
  const authenticator = createAuthenticator({
    db,
    adminKey: config.API_ADMIN_KEY,
    logger: logger.child({ module: 'auth' }),
    cache: caches.keys,
  });
  app.use('/api/*', authenticator.middleware);
  app.use('/api/*', async (c, next) => {
    const principal = c.get('principal');
    limited(keyLimit.take(`key:${principal.keyId ?? 'bootstrap'}`));
    await next();
  });

  app.get('/health', (c) => c.json({ status: 'healthy', service: SERVICE }));
  app.route('/', createOpsRoutes({ service: SERVICE, registry, readiness: deps.readiness }));
  const devices = createDeviceReads(db, caches.registry);
  app.route('/', createDevicesRoutes(db, devices));
  app.route('/', createCredentialsRoutes(db));
  app.route(
    '/',
    createTelemetryRoutes({
      devices,
      cache: caches.timeSeries,
      ...deps.influx,
      maxPoints: config.API_METRICS_MAX_POINTS,
    }),
  );
  app.route('/', createRawDataRoutes({ db, devices, ...deps.archive }));
  app.route(
    '/',
    createCommandsRoutes({
      db,
      devices,
      publisher: deps.commands,
      logger: logger.child({ module: 'commands' }),
    }),
  );
  const notificationTargets = deps.notificationTargets ?? [];
  app.route('/', createAlertsRoutes(db, devices, notificationTargets));
  app.route('/', createAlertRulesRoutes(db, notificationTargets, deps.influx));
  app.route('/', createWebhooksRoutes(db));
  app.route('/', createStatsRoutes(db));
  registerFleetGauge(registry, db);
  app.route('/', createApiKeysRoutes(db, authenticator.forget));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'an API key: the bootstrap admin key or one made with POST /api/keys',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'IoT Meter device manager', version: '1.0.0' },
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json' }));
  return app;
}

function peerAddress(c: Parameters<typeof getConnInfo>[0]): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown'; // app.request() in tests has no socket
  }
}
