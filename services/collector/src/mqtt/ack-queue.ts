export type AckEntry = {
  readonly packetId: number;
  readonly qos: 0 | 1 | 2;
  readonly bytes: number;
  settled: boolean;
};

/**
 * Messages awaiting acknowledgement, in receive order (QoS 0 ones too, which need none, so that
 * they count against the memory bound until they are stored). MQTT requires acknowledgements in that order,
 * and Mosquitto 2.0.11 reuses packet ids still in flight (#2306), so entries are never keyed by id.
 */
export class AckQueue {
  private entries: AckEntry[] = [];
  private start = 0;
  private pendingBytes = 0;

  /** Payload bytes of the messages in the queue. */
  get bytes(): number {
    return this.pendingBytes;
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  get head(): AckEntry | undefined {
    return this.entries[this.start];
  }

  push(packetId: number, qos: 0 | 1 | 2, bytes: number): AckEntry {
    const entry: AckEntry = { packetId, qos, bytes, settled: false };
    this.entries.push(entry);
    this.pendingBytes += bytes;
    return entry;
  }

  /** Removes and returns the settled entries at the head, stopping at the first unsettled one. */
  takeSettled(): AckEntry[] {
    let end = this.start;
    while (end < this.entries.length && this.entries[end]?.settled) end += 1;
    const due = this.entries.slice(this.start, end);
    this.start = end;
    for (const entry of due) this.pendingBytes -= entry.bytes;
    // Compact now and then so the array does not grow without bound.
    if (this.start > 4096 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return due;
  }
}
