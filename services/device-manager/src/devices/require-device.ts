import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import { findDevice } from './devices.repository.js';

/** Routes under a device answer 404 `device_not_found` for a device that is not registered. */
export async function requireDevice(db: Kysely<Database>, deviceId: string): Promise<void> {
  if (!(await findDevice(db, deviceId))) throw new ApiError('device_not_found', 'Device not found');
}
