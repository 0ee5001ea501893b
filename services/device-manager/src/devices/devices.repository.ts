import { creationOrder, type Database, findKeysetPage, statementSlices } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { issueCredentials } from '../broker-accounts/device-credentials.repository.js';
import type { Device } from './devices.schema.js';

export type DeviceSort = 'created_at' | '-created_at' | 'device_id' | '-device_id';

export type DeviceFilters = {
  status?: string;
  type?: string;
  connectionStatus?: 'online' | 'offline' | 'unknown';
  location?: string;
  /** metadata labels: each `key` must equal its value */
  labels?: Record<string, string>;
};

export type DeviceFields = {
  device_name?: string;
  device_type?: string | null;
  location?: string | null;
  status?: string;
  metadata?: Record<string, unknown>;
};

// A device as the API shows it: the registry row joined with what the collector knows of it.
function selectDevices(db: Kysely<Database>) {
  return db
    .selectFrom('devices as d')
    .leftJoin('device_presence as p', 'p.device_id', 'd.device_id')
    .select([
      'd.id',
      'd.device_id',
      'd.device_name',
      'd.device_type',
      'd.location',
      'd.status',
      'd.metadata',
      sql<'online' | 'offline' | 'unknown'>`coalesce(p.connection_status, 'unknown')`.as('connection_status'),
      // greatest() ignores nulls: heard by a collector or through the heartbeat route.
      sql<Date | null>`greatest(p.last_seen, d.last_heartbeat)`.as('last_seen'),
      'p.fw_version',
      'd.created_at',
      'd.updated_at',
      sql<string>`d.created_at::text`.as('created_at_key'),
    ]);
}

type DeviceRow = Awaited<ReturnType<ReturnType<typeof selectDevices>['executeTakeFirstOrThrow']>>;

function toDevice({ created_at_key: _, ...row }: DeviceRow): Device {
  return {
    ...row,
    last_seen: row.last_seen?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export async function findDevice(db: Kysely<Database>, deviceId: string): Promise<Device | undefined> {
  const row = await selectDevices(db).where('d.device_id', '=', deviceId).executeTakeFirst();
  return row && toDevice(row);
}

/** One page of devices and the cursor of the next page (undefined on the last one). */
export async function findDevices(
  db: Kysely<Database>,
  filters: DeviceFilters,
  page: { sort: DeviceSort; limit: number; cursor?: string },
) {
  let query = selectDevices(db);
  if (filters.status !== undefined) query = query.where('d.status', '=', filters.status);
  if (filters.type !== undefined) query = query.where('d.device_type', '=', filters.type);
  if (filters.location !== undefined) query = query.where('d.location', '=', filters.location);
  if (filters.connectionStatus !== undefined) {
    query = query.where(sql`coalesce(p.connection_status, 'unknown')`, '=', filters.connectionStatus);
  }
  if (filters.labels && Object.keys(filters.labels).length > 0) {
    query = query.where(sql<boolean>`d.metadata @> ${JSON.stringify(filters.labels)}::jsonb`);
  }
  const { items, next } = await findKeysetPage(
    query,
    page.sort.endsWith('created_at')
      ? creationOrder(page.sort.startsWith('-'), 'd')
      : {
          columns: [{ column: 'd.device_id', type: 'text', value: (row) => row.device_id }],
          descending: page.sort.startsWith('-'),
        },
    page,
  );
  return { items: items.map(toDevice), next };
}

/**
 * Registers a device and issues its MQTT credentials, in one transaction; undefined when its id is
 * taken (and nothing is issued).
 */
export async function insertDevice(
  db: Kysely<Database>,
  device: DeviceFields & { device_id: string; device_name: string },
) {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('devices')
      .values({ ...device, metadata: JSON.stringify(device.metadata ?? {}) })
      .onConflict((oc) => oc.column('device_id').doNothing())
      .returning('device_id')
      .executeTakeFirst();
    if (!inserted) return undefined;
    const [credentials] = await issueCredentials(trx, [device.device_id]);
    const registered = await findDevice(trx, device.device_id);
    return registered && credentials && { device: registered, credentials };
  });
}

export async function updateDevice(db: Kysely<Database>, deviceId: string, fields: DeviceFields) {
  const { metadata, ...rest } = fields;
  const updated = await db
    .updateTable('devices')
    .set({
      ...rest,
      ...(metadata === undefined ? {} : { metadata: JSON.stringify(metadata) }),
      updated_at: sql`now()`,
    })
    .where('device_id', '=', deviceId)
    .returning('device_id')
    .executeTakeFirst();
  return updated ? findDevice(db, deviceId) : undefined;
}

export async function deleteDevice(db: Kysely<Database>, deviceId: string): Promise<boolean> {
  const result = await db.deleteFrom('devices').where('device_id', '=', deviceId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function recordHeartbeat(db: Kysely<Database>, deviceId: string): Promise<boolean> {
  const result = await db
    .updateTable('devices')
    .set({ last_heartbeat: sql`now()` })
    .where('device_id', '=', deviceId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/**
 * Sets a registered device's connection status by hand (the original API's PUT …/status); `unknown` forgets
 * what the collectors knew of it.
 */
export async function setConnectionStatus(
  db: Kysely<Database>,
  deviceId: string,
  status: 'online' | 'offline' | 'unknown',
  fwVersion: string | undefined,
) {
  return db.transaction().execute(async (trx) => {
    const exists = await trx
      .updateTable('devices')
      .set({ updated_at: sql`now()` })
      .where('device_id', '=', deviceId)
      .returning('device_id')
      .executeTakeFirst();
    if (!exists) return undefined;
    if (status === 'unknown') {
      await trx.deleteFrom('device_presence').where('device_id', '=', deviceId).execute();
      return findDevice(trx, deviceId);
    }
    await trx
      .insertInto('device_presence')
      .values({
        device_id: deviceId,
        connection_status: status,
        status_changed_at: sql`now()`,
        last_seen: sql`now()`,
        fw_version: fwVersion ?? null,
      })
      .onConflict((oc) =>
        oc.column('device_id').doUpdateSet((eb) => ({
          connection_status: status,
          status_changed_at: sql`now()`,
          last_seen: sql`now()`,
          fw_version: fwVersion ?? eb.ref('device_presence.fw_version'),
        })),
      )
      .execute();
    return findDevice(trx, deviceId);
  });
}

export type ImportedDevice = DeviceFields & { device_id: string; device_name: string };

/**
 * Registers new devices (issuing their MQTT credentials) and updates existing ones with the fields
 * each row gives (fields a row leaves out keep their value), in one transaction. Returns which ids
 * were created and which changed (the others were already as given), and the new credentials:
 * of the new devices, or with `reissueCredentials` of every device given.
 */
export async function upsertDevices(
  db: Kysely<Database>,
  devices: readonly ImportedDevice[],
  options: { reissueCredentials?: boolean } = {},
) {
  if (devices.length === 0) return { created: [], updated: [], credentials: [] };
  return db.transaction().execute(async (trx) => {
    const created: { device_id: string }[] = [];
    for (const chunk of statementSlices(devices)) {
      const rows = await trx
        .insertInto('devices')
        .values(chunk.map((d) => ({ ...d, metadata: JSON.stringify(d.metadata ?? {}) })))
        .onConflict((oc) => oc.column('device_id').doNothing())
        .returning('device_id')
        .execute();
      created.push(...rows);
    }
    const fresh = new Set(created.map((r) => r.device_id));
    const credentials = await issueCredentials(
      trx,
      options.reissueCredentials ? [...new Set(devices.map((d) => d.device_id))] : [...fresh],
    );
    const existing = devices.filter((d) => !fresh.has(d.device_id));
    if (existing.length === 0) return { created: [...fresh], updated: [], credentials };
    // Each column: the row's value when the row has the key, else the current one.
    const given = (column: string) =>
      sql`case when v.row ? ${column} then v.row->>${column} else ${sql.ref(`d.${column}`)} end`;
    const next = sql`(${given('device_name')}, ${given('device_type')}, ${given('location')}, ${given('status')},
      coalesce(v.row->'metadata', d.metadata))`;
    const updated: { device_id: string }[] = [];
    for (const chunk of statementSlices(existing)) {
      const rows = chunk.map((d) => sql`(${d.device_id}, ${JSON.stringify(d)}::jsonb)`);
      const result = await sql<{ device_id: string }>`
        update devices d
        set (device_name, device_type, location, status, metadata) = ${next}, updated_at = now()
        from (values ${sql.join(rows)}) as v(device_id, row)
        where d.device_id = v.device_id
          and ${next} is distinct from (d.device_name, d.device_type, d.location, d.status, d.metadata)
        returning d.device_id`.execute(trx);
      updated.push(...result.rows);
    }
    return { created: [...fresh], updated: updated.map((r) => r.device_id), credentials };
  });
}
