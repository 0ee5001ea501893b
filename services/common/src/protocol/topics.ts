/** Device ids: 1–128 characters of [A-Za-z0-9_.:-], starting with a letter or digit (architecture §2). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** What a device publishes, by topic suffix. */
export const DEVICE_TOPIC_KINDS = ['telemetry', 'hello', 'status', 'command/ack'] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

/** The filters a collector subscribes to (inside its `$share/<group>/`). */
export const DEVICE_TOPIC_FILTERS = DEVICE_TOPIC_KINDS.map((kind) => `iot/+/${kind}`);

export type DeviceTopic = { deviceId: string; kind: DeviceTopicKind };

/** Splits `iot/{device_id}/{kind}`; undefined for any other topic or a malformed device id. */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== 'iot' || parts.length < 3 || parts.length > 4) return undefined;
  const deviceId = parts[1] ?? '';
  const kind = parts.slice(2).join('/');
  if (!DEVICE_ID_PATTERN.test(deviceId) || !(DEVICE_TOPIC_KINDS as readonly string[]).includes(kind)) {
    return undefined;
  }
  return { deviceId, kind: kind as DeviceTopicKind };
}

/** The topic a device publishes `kind` messages on. */
export function deviceTopic(deviceId: string, kind: DeviceTopicKind | 'command'): string {
  return `iot/${deviceId}/${kind}`;
}
