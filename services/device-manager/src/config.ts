import { commaList, databaseEnv, influxEnv, mqttEnv, s3Env, serviceEnv } from '@iot-meter/common';
import { z } from 'zod';
import { parseDurationSeconds } from './alert-rules/alert-rules.schema.js';
import { isProxyEntry } from './http/client-address.js';
import { downsampleEnv } from './retention/retention-config.js';

const positive = z.coerce.number().positive();
// A duration like 15s, 10m, 6h, in milliseconds.
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const seconds = parseDurationSeconds(text);
      if (seconds === undefined || seconds === 0) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 30s, 5m, 1h or 1d' });
        return z.NEVER;
      }
      return seconds * 1000;
    });

export const deviceManagerConfig = serviceEnv(8080)
  .extend(databaseEnv.shape)
  .extend(influxEnv.shape)
  .extend(s3Env.shape)
  .extend(mqttEnv.shape)
  .extend(downsampleEnv.shape)
  .extend({
    // The bootstrap admin key (from a Secret in the chart); create the other keys with it.
    API_ADMIN_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    API_BODY_LIMIT_BYTES: positive.int().default(1024 * 1024),
    // Bulk device import (NDJSON or CSV) takes larger bodies.
    API_IMPORT_LIMIT_BYTES: positive.int().default(16 * 1024 * 1024),
    // Per API key, and per client address (which also limits guessing keys).
    API_RATE_LIMIT_PER_SECOND: positive.default(100),
    API_RATE_LIMIT_BURST: positive.int().default(200),
    API_CLIENT_RATE_LIMIT_PER_SECOND: positive.default(200),
    API_CLIENT_RATE_LIMIT_BURST: positive.int().default(400),
    // A metrics query that would return more points is refused (422) rather than cut.
    API_METRICS_MAX_POINTS: positive.int().default(10_000),
    // Device reads (list, get, status) and metrics are answered from memory for this long after a
    // query; registry writes are seen at once (see README, "Read cache"). 0 turns it off.
    API_READ_CACHE_MS: z.coerce.number().int().min(0).default(1000),
    // Commands: how long to wait for the broker's PUBACK, for the device's ack (then `timeout`),
    // and how often pending commands are sent again.
    COMMAND_PUBLISH_TIMEOUT_MS: positive.int().default(5000),
    COMMAND_ACK_TIMEOUT_SECONDS: positive.int().default(300),
    COMMAND_RETRY_INTERVAL_MS: positive.int().default(10_000),
    // Comma-separated addresses or CIDR blocks of the proxies in front of the API (an Ingress
    // controller's pods): from them, rate limits key on the client in X-Forwarded-For. None by default.
    API_TRUSTED_PROXIES: commaList().refine(
      (list) => list.every(isProxyEntry),
      'must be comma-separated IP addresses or CIDR blocks',
    ),
    // Alert rules: evaluated every interval by one replica at a time; the first pass after taking
    // the lead reads this far back, each pass reaches back the late window before the previous one
    // ended, and samples a device backfills are judged up to the maximum lateness old.
    ALERT_EVALUATION: z.enum(['on', 'off']).default('on'),
    ALERT_EVAL_INTERVAL: duration('15s'),
    ALERT_LOOKBACK: duration('10m'),
    ALERT_LATE_WINDOW: duration('1m'),
    ALERT_MAX_LATENESS: duration('6h'),
    // Prometheus Alertmanager, to which rule alerts are sent (none: alerts stay in the API).
    ALERTMANAGER_URL: z.url().optional(),
    // Internal addresses or CIDR blocks webhooks may post to (loopback, private, link-local ones are
    // refused otherwise, so a webhook cannot reach into the cluster). None by default.
    WEBHOOK_ALLOWED_NETWORKS: commaList().refine(
      (list) => list.every(isProxyEntry),
      'must be comma-separated IP addresses or CIDR blocks',
    ),
    // Comma-separated origins allowed by CORS; none by default.
    CORS_ORIGINS: commaList(),
  });

export type DeviceManagerConfig = z.output<typeof deviceManagerConfig>;
