import { describe, expect, it } from 'vitest';
import { toLineProtocol } from './line-protocol.js';

describe('toLineProtocol', () => {
  it('writes one float point per sample with its nanosecond time', () => {
    expect(
      toLineProtocol('device-001', [
        { metric: 'temperature', value: 23.5, unit: 'celsius', timeNs: 1770912000000000000n },
        { metric: 'count', value: 3, timeNs: 1770912000000000001n },
        { metric: 'pf', value: -1.5e-7, unit: 'deg C, avg', timeNs: 1n },
      ]),
    ).toBe(
      [
        'iot_telemetry,device_id=device-001,metric=temperature,unit=celsius value=23.5 1770912000000000000',
        'iot_telemetry,device_id=device-001,metric=count value=3 1770912000000000001',
        'iot_telemetry,device_id=device-001,metric=pf,unit=deg\\ C\\,\\ avg value=-1.5e-7 1',
      ].join('\n'),
    );
  });
});
