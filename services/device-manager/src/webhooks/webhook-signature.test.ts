import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signDelivery, verifyDelivery } from './webhook-signature.js';

describe('webhook signatures', () => {
  const body = '{"event":"firing"}';
  it('is HMAC-SHA256 over the timestamp and the body, in hex', () => {
    const expected = createHmac('sha256', 's3cret').update(`1700000000.${body}`).digest('hex');
    expect(signDelivery('s3cret', '1700000000', body)).toBe(`sha256=${expected}`);
  });

  it('verifies only the same secret, timestamp and body', () => {
    const signature = signDelivery('s3cret', '1700000000', body);
    expect(verifyDelivery('s3cret', '1700000000', body, signature)).toBe(true);
    expect(verifyDelivery('other', '1700000000', body, signature)).toBe(false);
    expect(verifyDelivery('s3cret', '1700000001', body, signature)).toBe(false);
    expect(verifyDelivery('s3cret', '1700000000', `${body} `, signature)).toBe(false);
    expect(verifyDelivery('s3cret', '1700000000', body, 'sha256=00')).toBe(false);
  });
});
