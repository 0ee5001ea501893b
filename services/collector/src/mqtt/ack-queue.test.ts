import { describe, expect, it } from 'vitest';
import { AckQueue } from './ack-queue.js';

describe('AckQueue', () => {
  it('releases acknowledgements only in receive order', () => {
    const queue = new AckQueue();
    const [a, b, c] = [queue.push(1, 1, 10), queue.push(2, 1, 20), queue.push(3, 2, 30)];
    b.settled = true;
    c.settled = true;
    expect(queue.takeSettled()).toEqual([]);
    expect([queue.size, queue.bytes]).toEqual([3, 60]);
    a.settled = true;
    expect(queue.takeSettled().map((e) => [e.packetId, e.qos])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    expect([queue.size, queue.bytes]).toEqual([0, 0]);
    expect(queue.head).toBeUndefined();
  });

  it('keeps two messages with the same packet id apart', () => {
    const queue = new AckQueue();
    const first = queue.push(7, 1, 1);
    const second = queue.push(7, 1, 1);
    second.settled = true;
    expect(queue.takeSettled()).toEqual([]);
    first.settled = true;
    expect(queue.takeSettled()).toHaveLength(2);
  });

  it('stays correct across compaction of a long stream', () => {
    const queue = new AckQueue();
    let acked = 0;
    for (let i = 0; i < 20_000; i += 1) {
      queue.push(i % 65_535, 1, 1).settled = true;
      if (i % 7 === 0) acked += queue.takeSettled().length;
    }
    acked += queue.takeSettled().length;
    expect(acked).toBe(20_000);
    expect(queue.size).toBe(0);
  });
});
