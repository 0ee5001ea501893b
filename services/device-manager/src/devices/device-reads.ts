import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import type { ReadCache } from '../http/read-cache.js';
import { type DeviceFilters, type DeviceSort, findDevice, findDevices } from './devices.repository.js';

/**
 * Registry reads, answered through `cache`. Whoever writes to the registry calls `changed()` once
 * the write is committed (other replicas hear of it through PostgreSQL, see service.ts).
 */
export function createDeviceReads(db: Kysely<Database>, cache: ReadCache) {
  const find = (deviceId: string) => cache.get(`device ${deviceId}`, () => findDevice(db, deviceId));
  return {
    find,
    list: (filters: DeviceFilters, page: { sort: DeviceSort; limit: number; cursor?: string }) =>
      cache.get(`devices ${JSON.stringify([filters, page])}`, () => findDevices(db, filters, page)),
    /** Routes under a device answer 404 `device_not_found` for a device that is not registered. */
    async require(deviceId: string): Promise<void> {
      if (!(await find(deviceId))) throw new ApiError('device_not_found', 'Device not found');
    },
    changed: () => cache.clear(),
  };
}

export type DeviceReads = ReturnType<typeof createDeviceReads>;
