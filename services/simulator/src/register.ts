import type { SimulatedDevice } from './simulated-device.js';

/**
 * Registers the fleet through the device-manager's bulk import (idempotent: a second run updates
 * nothing), so the registry lists every simulated device. Throws with the API's answer on failure.
 */
export async function registerFleet(
  devices: readonly SimulatedDevice[],
  api: { url: string; key: string },
  seed: string,
): Promise<{ created: number; updated: number; unchanged: number }> {
  const rows = devices.map((d, i) =>
    JSON.stringify({
      device_id: d.id,
      device_name: `Simulated ${d.deviceType} ${i + 1}`,
      device_type: d.deviceType,
      location: `Site ${(i % 10) + 1}`,
      metadata: { simulated: 'true', seed },
    }),
  );
  const response = await fetch(new URL('/api/devices/import', api.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${api.key}`, 'content-type': 'application/x-ndjson' },
    body: rows.join('\n'),
  });
  const body = (await response.json().catch(() => ({}))) as {
    created?: number;
    updated?: number;
    unchanged?: number;
    failed?: number;
    error?: string;
  };
  if (!response.ok || (body.failed ?? 0) > 0) {
    throw new Error(`registering the fleet failed: ${response.status} ${JSON.stringify(body).slice(0, 500)}`);
  }
  return { created: body.created ?? 0, updated: body.updated ?? 0, unchanged: body.unchanged ?? 0 };
}
