/** Device ids: 1–128 characters of [A-Za-z0-9_.:-], starting with a letter or digit (architecture §2). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** What a device publishes, by topic suffix. */
export const DEVICE_TOPIC_KINDS = ['telemetry', 'hello', 'status', 'command/ack'] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

/** The filters a collector subscribes to (inside its `$share/<group>/`). */
export const DEVICE_TOPIC_FILTERS = DEVICE_TOPIC_KINDS.map((kind) => `iot/+/${kind}`);

export type DeviceTopic = { deviceId: string; kind: DeviceTopicKind };

const KINDS: ReadonlySet<string> = new Set(DEVICE_TOPIC_KINDS);

/** Splits `iot/{device_id}/{kind}`; undefined for any other topic or a malformed device id. */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  // Once per message on the collector's hot path: no split, no intermediate arrays.
  if (!topic.startsWith('iot/')) return undefined;
  const slash = topic.indexOf('/', 4);
  if (slash < 0) return undefined;
  const kind = topic.slice(slash + 1);
  const deviceId = topic.slice(4, slash);
  if (!KINDS.has(kind) || !DEVICE_ID_PATTERN.test(deviceId)) return undefined;
  return { deviceId, kind: kind as DeviceTopicKind };
}

/** The topic a device publishes `kind` messages on. */
export function deviceTopic(deviceId: string, kind: DeviceTopicKind | 'command'): string {
  return `iot/${deviceId}/${kind}`;
}
