export type AckEntry = { readonly packetId: number; readonly qos: 1 | 2; settled: boolean };

/**
 * Messages awaiting acknowledgement, in receive order. MQTT requires acknowledgements in that order,
 * and Mosquitto 2.0.11 reuses packet ids still in flight (#2306), so entries are never keyed by id.
 */
export class AckQueue {
  private entries: AckEntry[] = [];
  private start = 0;

  get size(): number {
    return this.entries.length - this.start;
  }

  get head(): AckEntry | undefined {
    return this.entries[this.start];
  }

  push(packetId: number, qos: 1 | 2): AckEntry {
    const entry: AckEntry = { packetId, qos, settled: false };
    this.entries.push(entry);
    return entry;
  }

  /** Removes and returns the settled entries at the head, stopping at the first unsettled one. */
  takeSettled(): AckEntry[] {
    let end = this.start;
    while (end < this.entries.length && this.entries[end]?.settled) end += 1;
    const due = this.entries.slice(this.start, end);
    this.start = end;
    // Compact now and then so the array does not grow without bound.
    if (this.start > 4096 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return due;
  }
}
