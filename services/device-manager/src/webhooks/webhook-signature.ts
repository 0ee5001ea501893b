import { createHmac, timingSafeEqual } from 'node:crypto';

/** The headers a webhook delivery carries besides its JSON body. */
export const SIGNATURE_HEADER = 'x-iot-meter-signature';
export const TIMESTAMP_HEADER = 'x-iot-meter-timestamp';
export const EVENT_ID_HEADER = 'x-iot-meter-event-id';

/**
 * `sha256=<hex>`: HMAC-SHA256 with the webhook's secret over `<timestamp>.<body>`, so a receiver
 * can tell the body is ours and refuse an old delivery replayed (the timestamp is signed too).
 */
export function signDelivery(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** What a receiver does: recompute the signature and compare in constant time. */
export function verifyDelivery(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signDelivery(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
