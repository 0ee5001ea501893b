import { creationOrder, type Database, findKeysetPage } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';

const COLUMNS = [
  'id',
  'cmd_id',
  'device_id',
  'cmd',
  'params',
  'status',
  'ack_detail',
  'created_by',
  'created_at',
  'sent_at',
  'acked_at',
] as const;

/** Statuses of a command still waiting for its device. */
export const WAITING = ['pending', 'sent'] as const;

export async function insertCommand(
  db: Kysely<Database>,
  command: {
    cmd_id: string;
    device_id: string;
    cmd: string;
    params: Record<string, unknown>;
    created_by: string;
  },
) {
  return db
    .insertInto('device_commands')
    .values({ ...command, params: JSON.stringify(command.params) })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Records that the broker took the command; a device's ack that came first is kept. */
export async function markCommandSent(db: Kysely<Database>, cmdId: string) {
  return db
    .updateTable('device_commands')
    .set({
      status: sql`case when status = 'pending' then 'sent' else status end`,
      sent_at: sql`coalesce(sent_at, now())`,
    })
    .where('cmd_id', '=', cmdId)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function findCommand(db: Kysely<Database>, cmdId: string) {
  return db.selectFrom('device_commands').select(COLUMNS).where('cmd_id', '=', cmdId).executeTakeFirst();
}

/** One page of a device's commands, newest first. */
export async function findCommands(
  db: Kysely<Database>,
  q: { deviceId: string; status?: string; limit: number; cursor?: string },
) {
  let query = db
    .selectFrom('device_commands')
    .select([...COLUMNS, sql<string>`created_at::text`.as('created_at_key')])
    .where('device_id', '=', q.deviceId);
  if (q.status !== undefined) query = query.where('status', '=', q.status);
  return findKeysetPage(query, creationOrder(true), q);
}

/** The original API's manual acknowledgement: the result becomes the status. */
export async function acknowledgeCommand(
  db: Kysely<Database>,
  cmdId: string,
  result: string,
  detail: string,
) {
  return db
    .updateTable('device_commands')
    .set({ status: result, ack_detail: detail, acked_at: sql`now()` })
    .where('cmd_id', '=', cmdId)
    .returning(COLUMNS)
    .executeTakeFirst();
}

/**
 * The oldest `limit` pending commands, locked for this transaction; rows another transaction holds
 * are skipped, so replicas dispatching at once never claim the same command.
 */
export async function findPendingCommandsToSend(db: Kysely<Database>, limit: number) {
  return db
    .selectFrom('device_commands')
    .selectAll()
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Commands no device answered within `seconds` of their creation become `timeout`; returns how many. */
export async function markCommandsTimedOut(db: Kysely<Database>, seconds: number): Promise<number> {
  const result = await db
    .updateTable('device_commands')
    .set({ status: 'timeout' })
    .where('status', 'in', WAITING)
    .where('created_at', '<', sql<Date>`now() - make_interval(secs => ${seconds})`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export type CommandRow = Awaited<ReturnType<typeof insertCommand>>;
