import type { SimulatedDevice } from './simulated-device.js';

/** What registering did, and each device's MQTT password (username = its id), issued afresh. */
export type Registration = {
  created: number;
  updated: number;
  unchanged: number;
  passwords: Map<string, string>;
};

/**
 * Registers the fleet through the device-manager's bulk import (a second run updates nothing), so
 * the registry lists every simulated device, and has every device issued new MQTT credentials: the
 * simulator keeps no secrets between runs. Throws with the API's answer on failure.
 */
export async function registerFleet(
  devices: readonly SimulatedDevice[],
  api: { url: string; key: string },
  seed: string,
): Promise<Registration> {
  const rows = devices.map((d, i) =>
    JSON.stringify({
      device_id: d.id,
      device_name: `Simulated ${d.deviceType} ${i + 1}`,
      device_type: d.deviceType,
      location: `Site ${(i % 10) + 1}`,
      metadata: { simulated: 'true', seed },
    }),
  );
  const response = await fetch(new URL('/api/devices/import?credentials=all', api.url), {
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
    credentials?: { username: string; password: string }[];
  };
  const passwords = new Map((body.credentials ?? []).map((c) => [c.username, c.password]));
  if (!response.ok || (body.failed ?? 0) > 0 || passwords.size !== devices.length) {
    const { credentials: _secrets, ...answer } = body; // never a secret in an error message
    throw new Error(
      `registering the fleet failed: ${response.status} ${JSON.stringify(answer).slice(0, 500)}`,
    );
  }
  return {
    created: body.created ?? 0,
    updated: body.updated ?? 0,
    unchanged: body.unchanged ?? 0,
    passwords,
  };
}
