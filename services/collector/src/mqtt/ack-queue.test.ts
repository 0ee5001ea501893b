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

  it('knows which packet ids wait for their acknowledgement', () => {
    const queue = new AckQueue();
    const qos1 = queue.push(7, 1, 1);
    queue.push(9, 0, 1);
    expect([queue.holds(7), queue.holds(9), queue.holds(8)]).toEqual([true, false, false]);
    queue.push(7, 1, 1).settled = true;
    qos1.settled = true;
    expect(queue.takeSettled()).toHaveLength(1);
    expect(queue.holds(7)).toBe(true); // the second message with id 7 still waits behind the QoS 0 one
  });

  it('counts what is not settled yet', () => {
    const queue = new AckQueue();
    queue.push(1, 1, 10).settled = true;
    queue.push(2, 1, 20);
    queue.push(3, 0, 30);
    expect(queue.unsettled()).toEqual({ messages: 2, bytes: 50 });
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
