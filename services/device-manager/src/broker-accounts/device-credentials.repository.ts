import { type Database, statementSlices } from '@iot-meter/common';
import { type Kysely, sql } from 'kysely';
import { hashBrokerPassword, newDeviceSecret } from './broker-password.js';

/** A device's MQTT credentials as issued: the secret is returned once and stored only as a hash. */
export type IssuedCredentials = { device_id: string; username: string; password: string; issued_at: string };

/**
 * Issues new MQTT credentials to each device, replacing any it had (the old secret stops working
 * at the broker's next reload). Run inside the transaction that registers the devices, so a device
 * never exists without its credentials.
 */
export async function issueCredentials(
  db: Kysely<Database>,
  deviceIds: readonly string[],
): Promise<IssuedCredentials[]> {
  if (deviceIds.length === 0) return [];
  const secrets = new Map(deviceIds.map((id) => [id, newDeviceSecret()]));
  const rows: { device_id: string; issued_at: Date }[] = [];
  for (const chunk of statementSlices(deviceIds)) {
    const issued = await db
      .insertInto('device_credentials')
      .values(
        chunk.map((id) => ({ device_id: id, password_hash: hashBrokerPassword(secrets.get(id) ?? '') })),
      )
      .onConflict((oc) =>
        oc.column('device_id').doUpdateSet({
          password_hash: (eb) => eb.ref('excluded.password_hash'),
          issued_at: sql`now()`,
        }),
      )
      .returning(['device_id', 'issued_at'])
      .execute();
    rows.push(...issued);
  }
  return rows.map((row) => ({
    device_id: row.device_id,
    username: row.device_id,
    password: secrets.get(row.device_id) ?? '',
    issued_at: row.issued_at.toISOString(),
  }));
}

/** A broker account: a username and its password-file hash. */
export type BrokerAccount = { username: string; password_hash: string };

/** The devices the broker admits: those with credentials whose status is not `disabled` (any case). */
export async function findDeviceAccounts(db: Kysely<Database>): Promise<BrokerAccount[]> {
  return db
    .selectFrom('device_credentials as c')
    .innerJoin('devices as d', 'd.device_id', 'c.device_id')
    .where(sql`lower(d.status)`, '<>', 'disabled')
    .select(['c.device_id as username', 'c.password_hash'])
    .orderBy('c.device_id')
    .execute();
}

/** Issues a device new credentials in place of its old ones; undefined when there is no such device. */
export async function rotateCredentials(
  db: Kysely<Database>,
  deviceId: string,
): Promise<IssuedCredentials | undefined> {
  return db.transaction().execute(async (trx) => {
    // Locked, so a concurrent delete cannot leave credentials behind without their device.
    const device = await trx
      .selectFrom('devices')
      .select('device_id')
      .where('device_id', '=', deviceId)
      .forUpdate()
      .executeTakeFirst();
    if (!device) return undefined;
    const [credentials] = await issueCredentials(trx, [deviceId]);
    return credentials;
  });
}
