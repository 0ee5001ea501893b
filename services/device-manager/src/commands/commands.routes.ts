import { randomUUID } from 'node:crypto';
import { createRoute, z } from '@hono/zod-openapi';
import {
  COMMAND_ACK_RESULTS,
  COMMAND_NAMES,
  COMMAND_PARAMS,
  type Database,
  deviceTopic,
  type Logger,
} from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { requireRole } from '../auth/authenticate.js';
import type { DeviceReads } from '../devices/device-reads.js';
import { deviceIdParam } from '../devices/devices.schema.js';
import { ApiError } from '../http/api-errors.js';
import { describeIssue } from '../http/describe-issue.js';
import { setNextPage } from '../http/next-page.js';
import { errors, json, jsonBody, pageHeaders, security } from '../http/openapi-helpers.js';
import { createRouter } from '../http/router.js';
import { storableObject, storableText } from '../http/storable.js';
import { sendCommand } from './command-dispatcher.js';
import type { CommandPublisher } from './command-publisher.js';
import {
  acknowledgeCommand,
  type CommandRow,
  findCommand,
  findCommands,
  insertCommand,
} from './commands.repository.js';

const tags = ['commands'];
const STATUSES = ['pending', 'sent', ...COMMAND_ACK_RESULTS, 'timeout'] as const;

const commandSchema = z
  .object({
    id: z.number().int(),
    cmd_id: z.uuid(),
    device_id: z.string(),
    cmd: z.enum(COMMAND_NAMES as [string, ...string[]]),
    params: z.record(z.string(), z.unknown()),
    status: z.enum(STATUSES).openapi({
      description: 'pending (not yet taken by the broker), sent, the device’s ack result, or timeout',
    }),
    ack_detail: z.string().nullable(),
    created_by: z.string().nullable(),
    created_at: z.iso.datetime(),
    sent_at: z.iso.datetime().nullable(),
    acked_at: z.iso.datetime().nullable(),
  })
  .openapi('Command');

const createCommandBody = z
  .object({
    cmd: z.enum(COMMAND_NAMES as [string, ...string[]], {
      error: (issue) =>
        issue.input === undefined
          ? undefined
          : `Invalid command: ${String(issue.input)}. Valid commands: ${[...COMMAND_NAMES].sort().join(', ')}`,
    }),
    params: storableObject().default({}),
  })
  .openapi('CommandCreate');

const cmdIdParam = z.object({
  cmd_id: z.uuid().openapi({ param: { name: 'cmd_id', in: 'path' } }),
});

function toCommand(row: CommandRow) {
  return {
    ...row,
    cmd: row.cmd,
    status: row.status as (typeof STATUSES)[number],
    created_at: row.created_at.toISOString(),
    sent_at: row.sent_at?.toISOString() ?? null,
    acked_at: row.acked_at?.toISOString() ?? null,
  };
}

/** Commands to devices over MQTT, tracked until the device acknowledges or the wait times out. */
export function createCommandsRoutes(deps: {
  db: Kysely<Database>;
  devices: DeviceReads;
  publisher: CommandPublisher;
  logger: Logger;
}) {
  const { db } = deps;
  const app = createRouter();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/devices/{device_id}/commands',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Send a command to a device',
      request: { params: deviceIdParam, body: jsonBody(createCommandBody) },
      responses: {
        201: json(commandSchema.extend({ message: z.string() }), 'sent: the broker took it'),
        202: json(commandSchema.extend({ message: z.string() }), 'saved; sent once the broker is reachable'),
        ...errors(400, 404, 413, 415),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      const body = c.req.valid('json');
      const params = COMMAND_PARAMS[body.cmd as keyof typeof COMMAND_PARAMS].safeParse(body.params);
      if (!params.success) {
        const { field, message } = describeIssue(params.error, { prefix: ['params'] });
        throw new ApiError('invalid_request', message, field);
      }
      await deps.devices.require(device_id);
      const command = await insertCommand(db, {
        cmd_id: randomUUID(),
        device_id,
        cmd: body.cmd,
        params: params.data,
        created_by: c.get('principal').name,
      });
      try {
        const sent = await sendCommand(db, deps.publisher, command);
        return c.json(
          { ...toCommand(sent), message: `Command published to ${deviceTopic(device_id, 'command')}` },
          201,
        );
      } catch (err) {
        deps.logger.warn({ err, cmdId: command.cmd_id }, 'command not sent yet');
        return c.json(
          { ...toCommand(command), message: 'Command saved; it is sent when the broker is reachable' },
          202,
        );
      }
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/devices/{device_id}/commands',
      tags,
      security,
      summary: 'A device’s commands, newest first',
      request: {
        params: deviceIdParam,
        query: z.object({
          status: z.enum(STATUSES).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().optional(),
        }),
      },
      responses: {
        200: { ...json(z.array(commandSchema), 'one page of commands'), headers: pageHeaders },
        ...errors(400, 404),
      },
    }),
    async (c) => {
      const { device_id } = c.req.valid('param');
      await deps.devices.require(device_id);
      const { items, next } = await findCommands(db, { deviceId: device_id, ...c.req.valid('query') });
      setNextPage(c, next);
      return c.json(
        items.map(({ created_at_key: _, ...row }) => toCommand(row)),
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/commands/{cmd_id}',
      tags,
      security,
      summary: 'One command and where it stands',
      request: { params: cmdIdParam },
      responses: { 200: json(commandSchema, 'the command'), ...errors(400, 404) },
    }),
    async (c) => {
      const command = await findCommand(db, c.req.valid('param').cmd_id);
      if (!command) throw new ApiError('command_not_found', 'Command not found');
      return c.json(toCommand(command), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/commands/{cmd_id}/ack',
      tags,
      security,
      middleware: [requireRole('operator')],
      summary: 'Record a device’s answer by hand (collectors record acks from MQTT themselves)',
      request: {
        params: cmdIdParam,
        body: jsonBody(
          z
            .object({ result: z.enum(COMMAND_ACK_RESULTS), detail: storableText().max(1024).default('') })
            .openapi('CommandAck'),
        ),
      },
      responses: { 200: json(commandSchema, 'the command'), ...errors(400, 404, 413, 415) },
    }),
    async (c) => {
      const { result, detail } = c.req.valid('json');
      const command = await acknowledgeCommand(db, c.req.valid('param').cmd_id, result, detail);
      if (!command) throw new ApiError('command_not_found', 'Command not found');
      return c.json(toCommand(command), 200);
    },
  );

  return app;
}
