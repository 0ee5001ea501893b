export type AckEntry = {
  readonly packetId: number;
  readonly qos: 0 | 1 | 2;
  readonly bytes: number;
  settled: boolean;
};

/**
 * Messages awaiting acknowledgement, in receive order (QoS 0 ones too, which need none, so that
 * they count against the memory bound until they are stored). MQTT requires acknowledgements in
 * that order. It also counts the packet ids in use, so that a broker handing out an id that is
 * still unacknowledged (a protocol violation, Mosquitto 2.0.11 #2306) is caught before any
 * acknowledgement could be applied to the wrong message.
 */
export class AckQueue {
  private entries: AckEntry[] = [];
  private start = 0;
  private pendingBytes = 0;
  // Unacknowledged QoS 1/2 messages per packet id (ids are 16-bit and never 0).
  private readonly idsInUse = new Uint32Array(65_536);

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

  /** Whether a QoS 1/2 message with this packet id waits for its acknowledgement. */
  holds(packetId: number): boolean {
    return (this.idsInUse[packetId] ?? 0) > 0;
  }

  push(packetId: number, qos: 0 | 1 | 2, bytes: number): AckEntry {
    const entry: AckEntry = { packetId, qos, bytes, settled: false };
    this.entries.push(entry);
    this.pendingBytes += bytes;
    if (qos > 0) this.idsInUse[packetId] = (this.idsInUse[packetId] ?? 0) + 1;
    return entry;
  }

  /** Messages and bytes not yet settled (still being stored). */
  unsettled(): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (let i = this.start; i < this.entries.length; i += 1) {
      const entry = this.entries[i];
      if (entry && !entry.settled) {
        messages += 1;
        bytes += entry.bytes;
      }
    }
    return { messages, bytes };
  }

  /** Removes and returns the settled entries at the head, stopping at the first unsettled one. */
  takeSettled(): AckEntry[] {
    let end = this.start;
    while (end < this.entries.length && this.entries[end]?.settled) end += 1;
    const due = this.entries.slice(this.start, end);
    this.start = end;
    for (const entry of due) {
      this.pendingBytes -= entry.bytes;
      if (entry.qos > 0) this.idsInUse[entry.packetId] = (this.idsInUse[entry.packetId] ?? 1) - 1;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.start > 4096 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return due;
  }
}
