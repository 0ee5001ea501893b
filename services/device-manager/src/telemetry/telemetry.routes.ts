import { createRoute, z } from '@hono/zod-openapi';
import type { QueryApi } from '@influxdata/influxdb-client';
import { METRIC_NAME_PATTERN } from '@iot-meter/common';
import type { DeviceReads } from '../devices/device-reads.js';
import { deviceIdParam } from '../devices/devices.schema.js';
import { ApiError } from '../http/api-errors.js';
import { cachedJson } from '../http/cached-json.js';
import { errors, json, security } from '../http/openapi-helpers.js';
import type { ReadCache } from '../http/read-cache.js';
import { createRouter } from '../http/router.js';
import type { History } from './downsampled-history.js';
import { AGGREGATES, findLatestValues, findMetricPoints } from './telemetry.repository.js';
import { parseWindow, resolveTime } from './time-range.js';

const tags = ['metrics'];

const pointSchema = z
  .object({
    time: z.string().openapi({ description: 'RFC 3339, UTC; with aggregation the end of the window' }),
    device_id: z.string(),
    metric: z.string(),
    value: z.number(),
    unit: z.string().optional(),
  })
  .openapi('MetricPoint');

const metricsQuery = z.object({
  start: z.string().default('-1h').openapi({ description: 'relative (-1h, -7d, -2w), now(), or RFC 3339' }),
  stop: z.string().default('now()').openapi({ description: 'as start' }),
  metric: z.string().regex(METRIC_NAME_PATTERN, 'must be a metric name').optional(),
  aggregate: z.enum(AGGREGATES).optional(),
  every: z.string().optional().openapi({
    description:
      'aggregation window, e.g. 1m (default 1m); with downsampling, a multiple of its window reaches back past the retention',
  }),
});

/**
 * Time series from InfluxDB: the original API's route with absolute ranges, aggregation and a point cap.
 * Answers come through `cache`, keyed by the request as given: a relative range (`-1h`) repeated
 * within the cache's time answers for the range as it was when first asked.
 */
export function createTelemetryRoutes(deps: {
  devices: DeviceReads;
  cache: ReadCache;
  query: QueryApi;
  bucket: string;
  maxPoints: number;
  /** The downsampled bucket, for aggregates past the time series bucket's retention. */
  history?: History;
}) {
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/metrics',
      tags,
      security,
      summary: 'A device’s points, ordered by time (last hour by default)',
      request: { params: deviceIdParam, query: metricsQuery },
      responses: { 200: json(z.array(pointSchema), 'the points'), ...errors(400, 404, 422) },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      const q = c.req.valid('query');
      const now = Date.now();
      const start = resolveTime(q.start, 'start', now);
      const stop = resolveTime(q.stop, 'stop', now);
      if (start >= stop) throw new ApiError('invalid_request', 'start: must be before stop', 'start');
      if (q.every !== undefined && q.aggregate === undefined) {
        throw new ApiError('invalid_request', 'every: needs aggregate', 'every');
      }
      const everyMs = parseWindow(q.every ?? '1m');
      if (everyMs === undefined)
        throw new ApiError('invalid_request', 'every: must be a duration like 1m', 'every');
      await deps.devices.require(device_id);
      const points = await deps.cache.get(`metrics ${device_id} ${JSON.stringify(q)}`, async () => {
        const horizon = q.aggregate && deps.history ? await deps.history.horizon(now) : undefined;
        return findMetricPoints(deps.query, deps.bucket, {
          deviceId: device_id,
          start,
          stop,
          metric: q.metric,
          aggregate: q.aggregate ? { fn: q.aggregate, everyMs } : undefined,
          maxPoints: deps.maxPoints,
          ...(deps.history && horizon && { history: { ...deps.history, horizon } }),
        });
      });
      if (points.length > deps.maxPoints) {
        throw new ApiError(
          'too_many_points',
          `more than ${deps.maxPoints} points: narrow the range, pick a metric or aggregate (aggregate=mean&every=1m)`,
        );
      }
      return cachedJson(c, points);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/latest',
      tags,
      security,
      summary: 'Each metric’s newest value (last 30 days)',
      request: { params: deviceIdParam },
      responses: {
        200: json(
          z.array(
            z
              .object({
                metric: z.string(),
                value: z.number(),
                time: z.string(),
                unit: z.string().optional(),
              })
              .openapi('LatestValue'),
          ),
          'one value per metric',
        ),
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      await deps.devices.require(device_id);
      const latest = await deps.cache.get(`latest ${device_id}`, () =>
        findLatestValues(deps.query, deps.bucket, device_id),
      );
      return cachedJson(c, latest);
    },
  );

  return app;
}
