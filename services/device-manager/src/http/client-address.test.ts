import { loadConfig } from '@iot-meter/common';
import { SAMPLE_STORE_ENV } from '@iot-meter/common/testing';
import { describe, expect, it } from 'vitest';
import { deviceManagerConfig } from '../config.js';
import { createClientAddress, isProxyEntry } from './client-address.js';

describe('the client address rate limits key on', () => {
  const address = createClientAddress(['10.0.0.0/8', '192.168.1.7', 'fd00::/8']);

  it('is the peer when the peer is not a trusted proxy, whatever the header says', () => {
    expect(address('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(address('203.0.113.9', undefined)).toBe('203.0.113.9');
  });

  it('is the nearest hop that is not a trusted proxy, from a trusted peer', () => {
    expect(address('10.1.2.3', '198.51.100.1')).toBe('198.51.100.1');
    // The client wrote the first entry itself; the hops our proxies appended come last.
    expect(address('10.1.2.3', '6.6.6.6, 198.51.100.1, 192.168.1.7')).toBe('198.51.100.1');
    expect(address('fd00::1', '2001:db8::5')).toBe('2001:db8::5');
  });

  it('is the peer when the header is absent, or holds something other than addresses', () => {
    expect(address('10.1.2.3', undefined)).toBe('10.1.2.3');
    expect(address('10.1.2.3', 'unknown, 198.51.100.1')).toBe('198.51.100.1');
    expect(address('10.1.2.3', '198.51.100.1, not-an-ip')).toBe('10.1.2.3');
  });

  it('is the first hop when every hop is a trusted proxy', () => {
    expect(address('10.1.2.3', '10.9.9.9, 10.8.8.8')).toBe('10.9.9.9');
  });

  it('trusts no one by default', () => {
    expect(createClientAddress([])('10.1.2.3', '198.51.100.1')).toBe('10.1.2.3');
  });

  it('takes addresses and CIDR blocks only', () => {
    expect(['10.0.0.0/8', '192.168.1.7', '::1', 'fd00::/8'].map(isProxyEntry)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['10.0.0.0/33', 'ingress', '10.0.0.0/8/1', '10.0.0.0/x', 'fd00::/129'].map(isProxyEntry)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});

describe('API_TRUSTED_PROXIES', () => {
  const base = { ...SAMPLE_STORE_ENV, MQTT_URL: 'mqtt://127.0.0.1:1883' };

  it('is a list of addresses and blocks, empty by default', () => {
    expect(loadConfig(deviceManagerConfig, base).API_TRUSTED_PROXIES).toEqual([]);
    expect(
      loadConfig(deviceManagerConfig, { ...base, API_TRUSTED_PROXIES: ' 10.0.0.0/8, ::1 ' })
        .API_TRUSTED_PROXIES,
    ).toEqual(['10.0.0.0/8', '::1']);
  });

  it('refuses anything else at start-up, naming the variable', () => {
    expect(() =>
      loadConfig(deviceManagerConfig, { ...base, API_TRUSTED_PROXIES: '10.0.0.0/8, ingress' }),
    ).toThrow(/API_TRUSTED_PROXIES: must be comma-separated IP addresses or CIDR blocks/);
  });
});
