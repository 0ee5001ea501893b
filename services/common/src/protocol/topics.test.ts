import { describe, expect, it } from 'vitest';
import { parseDeviceTopic } from './topics.js';

describe('parseDeviceTopic', () => {
  it("splits each of a device's topics", () => {
    expect(parseDeviceTopic('iot/device-001/telemetry')).toEqual({
      deviceId: 'device-001',
      kind: 'telemetry',
    });
    expect(parseDeviceTopic('iot/a.b:c_d-1/hello')).toEqual({ deviceId: 'a.b:c_d-1', kind: 'hello' });
    expect(parseDeviceTopic('iot/d1/status')).toEqual({ deviceId: 'd1', kind: 'status' });
    expect(parseDeviceTopic('iot/d1/command/ack')).toEqual({ deviceId: 'd1', kind: 'command/ack' });
  });

  it('refuses every other topic', () => {
    for (const topic of [
      'iot/d1/command',
      'iot/d1/telemetry/extra',
      'iot/d1/a/telemetry',
      'iot//telemetry',
      'iot/-d1/telemetry',
      'iot/d 1/telemetry',
      `iot/${'d'.repeat(129)}/telemetry`,
      'iot/d1',
      'iot/d1/',
      'iotx/d1/telemetry',
      'x/iot/d1/telemetry',
      '',
    ]) {
      expect(parseDeviceTopic(topic), topic).toBeUndefined();
    }
  });
});
