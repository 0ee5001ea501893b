import { createRoute, z } from '@hono/zod-openapi';
import { type Database, decodeCursor, encodeCursor } from '@iot-meter/common';
import { stream } from 'hono/streaming';
import type { Kysely } from 'kysely';
import type { Client } from 'minio';
import type { DeviceReads } from '../devices/device-reads.js';
import { deviceIdParam } from '../devices/devices.schema.js';
import { ApiError } from '../http/api-errors.js';
import { setNextPage } from '../http/next-page.js';
import { errors, json, pageHeaders, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { storableText } from '../http/storable.js';
import { resolveTime } from '../telemetry/time-range.js';
import { type RawMessage, readSegment } from './archive-reader.js';
import { findSegmentPage, findSegmentsInOrder, type SegmentQuery } from './archive-segments.repository.js';

const tags = ['raw data'];
const kind = z.enum(['raw', 'quarantine']).default('raw').openapi({ description: 'raw, or quarantine' });
const time = (fallback: string | undefined, description: string) =>
  (fallback === undefined ? z.string().optional() : z.string().default(fallback)).openapi({ description });
// Messages are read for a time range, the last hour unless told.
const messageRange = {
  kind,
  start: time('-1h', 'received from (relative, now(), or RFC 3339)'),
  stop: time('now()', 'received before'),
};

const segmentSchema = z
  .object({
    filename: z.string().openapi({ description: 'the archive object’s key' }),
    size: z.number().int().openapi({ description: 'bytes of this device’s records in it' }),
    last_modified: z.iso.datetime(),
    kind: z.enum(['raw', 'quarantine']),
    byte_offset: z.number().int(),
    message_count: z.number().int(),
    first_received_at: z.iso.datetime(),
    last_received_at: z.iso.datetime(),
  })
  .openapi('RawDataSegment');

const messageSchema = z
  .object({
    topic: z.string(),
    received_at: z.string(),
    client_id: z.string(),
    packet_id: z.number().int().nullable(),
    qos: z.number().int(),
    dup: z.boolean(),
    retain: z.boolean(),
    bytes: z.number().int(),
    payload: z.string().optional().openapi({ description: 'the payload, when it is valid UTF-8' }),
    payload_base64: z.string().optional().openapi({ description: 'otherwise its exact bytes' }),
    reason: z.string().optional().openapi({ description: 'quarantine: the reason code' }),
    detail: z.string().optional(),
  })
  .openapi('RawMessage');

/**
 * The raw archive through the collectors' index: a device's archive segments, its messages for a
 * time range (paged), and the same as an NDJSON download.
 */
export function createRawDataRoutes(deps: {
  db: Kysely<Database>;
  devices: DeviceReads;
  store: Client;
  bucket: string;
}) {
  const app = createRouter();

  function segmentQuery(deviceId: string, q: { kind: 'raw' | 'quarantine'; start?: string; stop?: string }) {
    const now = Date.now();
    const query: SegmentQuery = {
      deviceId,
      kind: q.kind,
      start: q.start === undefined ? undefined : resolveTime(q.start, 'start', now),
      stop: q.stop === undefined ? undefined : resolveTime(q.stop, 'stop', now),
    };
    if (query.start && query.stop && query.start >= query.stop) {
      throw new ApiError('invalid_request', 'start: must be before stop', 'start');
    }
    return query;
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/raw-data',
      tags,
      security,
      summary: 'The archive segments holding a device’s raw messages, newest first',
      request: {
        params: deviceIdParam,
        query: z.object({
          kind,
          start: time(undefined, 'segments received from (relative, now(), or RFC 3339)'),
          stop: time(undefined, 'segments received before'),
          prefix: storableText().max(512).optional().openapi({ description: 'object key prefix' }),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().optional(),
        }),
      },
      responses: { 200: json(z.array(segmentSchema), 'one page of segments'), ...errors(400, 404) },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      const q = c.req.valid('query');
      await deps.devices.require(device_id);
      const { items, next } = await findSegmentPage(
        deps.db,
        { ...segmentQuery(device_id, q), prefix: q.prefix },
        { limit: q.limit, cursor: q.cursor },
      );
      setNextPage(c, next);
      return c.json(
        items.map((s) => ({
          filename: s.object_key,
          size: Number(s.byte_length),
          last_modified: s.last_received_at.toISOString(),
          kind: s.kind,
          byte_offset: Number(s.byte_offset),
          message_count: s.message_count,
          first_received_at: s.first_received_at.toISOString(),
          last_received_at: s.last_received_at.toISOString(),
        })),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/raw-data/messages',
      tags,
      security,
      summary: 'A device’s raw messages for a time range, in receive order (last hour by default)',
      request: {
        params: deviceIdParam,
        query: z.object({
          ...messageRange,
          limit: z.coerce.number().int().min(1).max(10_000).default(1000),
          cursor: z.string().optional(),
        }),
      },
      responses: {
        200: {
          ...json(z.array(messageSchema), 'one page of messages'),
          headers: pageHeaders,
        },
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      const q = c.req.valid('query');
      const query = segmentQuery(device_id, q);
      await deps.devices.require(device_id);
      // The cursor names the segment to resume in and how many of its messages were already sent.
      const [at, id, skip] = q.cursor ? decodeCursor(q.cursor, ['timestamptz', 'bigint', 'int']) : [];
      const from = at === undefined ? undefined : { at: String(at), id: String(id) };
      const messages: RawMessage[] = [];
      let next: string | undefined;
      for (const segment of await findSegmentsInOrder(deps.db, query, from)) {
        let index = 0;
        for await (const message of readSegment(deps.store, deps.bucket, segment, query)) {
          index += 1;
          if (from && segment.id === from.id && index <= Number(skip)) continue;
          if (messages.length === q.limit) {
            next = encodeCursor([segment.key, segment.id, index - 1]);
            break;
          }
          messages.push(message);
        }
        if (next) break;
      }
      setNextPage(c, next);
      return c.json(messages, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/raw-data/download',
      tags,
      security,
      summary: 'Every raw message of a device for a time range, one JSON object per line',
      request: {
        params: deviceIdParam,
        query: z.object(messageRange),
      },
      responses: {
        200: {
          content: { 'application/x-ndjson': { schema: messageSchema } },
          description: 'NDJSON, one message per line, in receive order',
        },
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      const query = segmentQuery(device_id, c.req.valid('query'));
      await deps.devices.require(device_id);
      const segments = await findSegmentsInOrder(deps.db, query);
      c.header('Content-Type', 'application/x-ndjson');
      c.header('Content-Disposition', `attachment; filename="${device_id}-${query.kind}.ndjson"`);
      // A streamed body has no typed response in the route's schema.
      return stream(c, async (out) => {
        for (const segment of segments) {
          for await (const message of readSegment(deps.store, deps.bucket, segment, query)) {
            await out.write(`${JSON.stringify(message)}\n`);
          }
        }
      }) as never;
    },
  );

  return app;
}
