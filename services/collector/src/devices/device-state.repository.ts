import type { Database } from '@iot-meter/common';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { CommandAck, DeviceActivity } from './device-activity.js';
import { applySeq, newSequenceState, type SequenceState } from './sequence-tracker.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ROWS_PER_STATEMENT = 2000;

export type SequenceTotals = { duplicates: number; gaps: number; resets: number };

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** Presence: newest status wins (by its time), last_seen only moves forward, hello fields stick. */
export async function upsertPresence(
  trx: Transaction<Database>,
  devices: readonly DeviceActivity[],
): Promise<void> {
  for (const part of chunks(devices.filter((d) => d.status))) {
    await trx
      .insertInto('device_presence')
      .values(
        part.map((d) => ({
          device_id: d.deviceId,
          connection_status: d.status?.connectionStatus ?? 'online',
          status_changed_at: new Date(d.status?.atMs ?? d.lastSeenMs),
          last_seen: new Date(d.lastSeenMs),
          fw_version: d.hello?.fwVersion ?? null,
          uptime_s: d.hello?.uptimeS ?? null,
        })),
      )
      .onConflict((oc) =>
        oc.column('device_id').doUpdateSet({
          connection_status: sql`case when excluded.status_changed_at >= device_presence.status_changed_at
            then excluded.connection_status else device_presence.connection_status end`,
          status_changed_at: sql`greatest(excluded.status_changed_at, device_presence.status_changed_at)`,
          last_seen: sql`greatest(excluded.last_seen, device_presence.last_seen)`,
          fw_version: sql`coalesce(excluded.fw_version, device_presence.fw_version)`,
          uptime_s: sql`coalesce(excluded.uptime_s, device_presence.uptime_s)`,
        }),
      )
      .execute();
  }
}

/**
 * Applies the batch's seqs to each device's tracking under a row lock, so collectors that share a
 * device's messages keep one consistent count (the API's `sequence_gap` rules alert on what is
 * missing). Rows are locked in device id order, so two collectors never deadlock.
 */
export async function trackSequences(
  trx: Transaction<Database>,
  devices: readonly DeviceActivity[],
): Promise<SequenceTotals> {
  const tracked = devices.filter((d) => d.seqs.length > 0);
  const totals: SequenceTotals = { duplicates: 0, gaps: 0, resets: 0 };
  if (tracked.length === 0) return totals;
  const ids = tracked.map((d) => d.deviceId);
  for (const part of chunks(ids)) {
    // -1 marks a device not seen before; its first seq starts the tracking.
    await trx
      .insertInto('device_sequences')
      .values(part.map((device_id) => ({ device_id, high_seq: -1, missing: [] })))
      .onConflict((oc) => oc.column('device_id').doNothing())
      .execute();
  }
  const rows = await trx
    .selectFrom('device_sequences')
    .selectAll()
    .where('device_id', 'in', ids)
    .orderBy('device_id')
    .forUpdate()
    .execute();
  const byId = new Map(rows.map((r) => [r.device_id, r]));
  const updated: { deviceId: string; state: SequenceState }[] = [];
  for (const activity of tracked) {
    const row = byId.get(activity.deviceId);
    let seqs = activity.seqs;
    let state: SequenceState;
    if (!row || Number(row.high_seq) < 0) {
      state = newSequenceState(seqs[0] ?? 0);
      seqs = seqs.slice(1);
    } else {
      state = {
        high: Number(row.high_seq),
        missing: new Set(row.missing.map(Number)),
        received: Number(row.received),
        duplicates: Number(row.duplicates),
        gaps: Number(row.gaps),
        resets: Number(row.resets),
      };
    }
    const before = { duplicates: state.duplicates, gaps: state.gaps, resets: state.resets };
    for (const seq of seqs) applySeq(state, seq);
    totals.duplicates += state.duplicates - before.duplicates;
    totals.gaps += state.gaps - before.gaps;
    totals.resets += state.resets - before.resets;
    updated.push({ deviceId: activity.deviceId, state });
  }
  for (const part of chunks(updated)) {
    await trx
      .insertInto('device_sequences')
      .values(
        part.map(({ deviceId, state }) => ({
          device_id: deviceId,
          high_seq: state.high,
          missing: [...state.missing],
          received: state.received,
          duplicates: state.duplicates,
          gaps: state.gaps,
          resets: state.resets,
          updated_at: new Date(),
        })),
      )
      .onConflict((oc) =>
        oc.column('device_id').doUpdateSet((eb) => ({
          high_seq: eb.ref('excluded.high_seq'),
          missing: eb.ref('excluded.missing'),
          received: eb.ref('excluded.received'),
          duplicates: eb.ref('excluded.duplicates'),
          gaps: eb.ref('excluded.gaps'),
          resets: eb.ref('excluded.resets'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }
  return totals;
}

/** Records each device's command acknowledgement on its command row (cmd ids that are not UUIDs match none). */
export async function recordCommandAcks(
  trx: Transaction<Database>,
  acks: readonly CommandAck[],
): Promise<void> {
  const valid = acks.filter((a) => UUID.test(a.cmdId));
  for (const part of chunks(valid)) {
    const values = part.map(
      (a) =>
        sql`(${a.cmdId}::uuid, ${a.deviceId}, ${a.result}, ${a.detail}, ${new Date(a.receivedAtMs)}::timestamptz)`,
    );
    await sql`
      update device_commands c
      set status = v.result, ack_detail = v.detail, acked_at = v.received_at
      from (values ${sql.join(values)}) as v(cmd_id, device_id, result, detail, received_at)
      where c.cmd_id = v.cmd_id and c.device_id = v.device_id
        and (c.acked_at is null or c.acked_at <= v.received_at)`.execute(trx);
  }
}

/** Marks devices offline that have not been heard from for `afterSeconds`; returns how many. */
export async function markSilentDevicesOffline(db: Kysely<Database>, afterSeconds: number): Promise<number> {
  const result = await db
    .updateTable('device_presence')
    .set({ connection_status: 'offline', status_changed_at: sql`now()` })
    .where('connection_status', '=', 'online')
    .where('last_seen', '<', sql<Date>`now() - make_interval(secs => ${afterSeconds})`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
