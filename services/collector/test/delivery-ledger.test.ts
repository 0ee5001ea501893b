import { describe, expect, it } from 'vitest';
import { DeliveryLedger } from './delivery-ledger.js';

describe('DeliveryLedger', () => {
  it('finds each acknowledged message that is missing, stored twice or not archived', () => {
    const ledger = new DeliveryLedger();
    for (const seq of [0, 1, 2, 3]) ledger.ack('a', seq);
    ledger.ack('b', 0);
    const verdict = ledger.verdict(
      new Map([
        ['a', [0, 2, 2, 3, 9]],
        ['b', [0]],
      ]),
      new Map([
        ['a', [0, 1, 2, 2]],
        ['b', [0]],
      ]),
    );
    expect(verdict).toEqual({
      acknowledged: 5,
      stored: 3,
      missing: [{ deviceId: 'a', seqs: [1] }],
      duplicated: [{ deviceId: 'a', seqs: [2] }],
      notArchived: [{ deviceId: 'a', seqs: [3] }],
      storedUnacknowledged: 1,
      ok: false,
    });
  });

  it('passes when every acknowledged message has one point and a record', () => {
    const ledger = new DeliveryLedger();
    ledger.ack('a', 7);
    ledger.ack('a', 7);
    const verdict = ledger.verdict(new Map([['a', [7, 8]]]), new Map([['a', [7, 7]]]));
    expect(verdict).toMatchObject({ acknowledged: 1, stored: 1, storedUnacknowledged: 1, ok: true });
  });
});
