import { describe, expect, it } from 'vitest';
import { allowedNetworks, refusedAddress } from './webhook-address.js';

describe('webhook addresses', () => {
  const none = allowedNetworks([]);
  it.each([
    ['93.184.216.34', false],
    ['172.15.255.255', false],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['100.64.0.1', true],
    ['169.254.169.254', true],
    ['0.0.0.0', true],
    ['239.1.2.3', true],
    ['2606:4700::1111', false],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:10.1.2.3', true],
    ['::ffff:a01:203', true],
    ['::ffff:5db8:d822', false],
  ])('%s is refused: %s', (address, refused) => {
    expect(refusedAddress(address, none) !== undefined).toBe(refused);
  });

  it('lets through exactly the networks allowed', () => {
    const allowed = allowedNetworks(['10.0.0.0/16', '192.168.1.7']);
    expect(refusedAddress('10.0.255.1', allowed)).toBeUndefined();
    expect(refusedAddress('::ffff:10.0.0.9', allowed)).toBeUndefined();
    expect(refusedAddress('10.1.0.1', allowed)).toBe(
      '10.1.0.1 is an internal address (allow it with WEBHOOK_ALLOWED_NETWORKS)',
    );
    expect(refusedAddress('192.168.1.7', allowed)).toBeUndefined();
    expect(refusedAddress('192.168.1.8', allowed)).toBeDefined();
  });
});
