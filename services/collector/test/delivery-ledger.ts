/** Seqs of one device. */
export type DeviceSeqs = { deviceId: string; seqs: number[] };

/** The ledger's comparison of what the broker acknowledged with what the stores hold. */
export type DeliveryVerdict = {
  /** Messages the broker acknowledged to their publishers. */
  acknowledged: number;
  /** Of those, the ones with exactly one point in InfluxDB. */
  stored: number;
  /** Acknowledged, and no point. */
  missing: DeviceSeqs[];
  /** A seq with more than one point (cannot happen while a point's time comes from its seq). */
  duplicated: DeviceSeqs[];
  /** Acknowledged, and in no raw archive record. */
  notArchived: DeviceSeqs[];
  /** Stored but never acknowledged: sent when a fault cut the publisher off; not a loss. */
  storedUnacknowledged: number;
  ok: boolean;
};

/**
 * Every seq the broker acknowledged, per device: the oracle of the fault suite and the delivery
 * soak. A message counts as delivered when it has exactly one point in InfluxDB and at least one
 * record in the raw archive (redeliveries are archived again).
 */
export class DeliveryLedger {
  private readonly acked = new Map<string, Set<number>>();

  ack(deviceId: string, seq: number): void {
    let seqs = this.acked.get(deviceId);
    if (!seqs) {
      seqs = new Set();
      this.acked.set(deviceId, seqs);
    }
    seqs.add(seq);
  }

  get devices(): string[] {
    return [...this.acked.keys()];
  }

  get acknowledged(): number {
    let count = 0;
    for (const seqs of this.acked.values()) count += seqs.size;
    return count;
  }

  /** `points`: the seq of every point stored per device; `archived`: the seqs in its raw records. */
  verdict(points: ReadonlyMap<string, readonly number[]>, archived: ReadonlyMap<string, readonly number[]>) {
    const verdict: DeliveryVerdict = {
      acknowledged: this.acknowledged,
      stored: 0,
      missing: [],
      duplicated: [],
      notArchived: [],
      storedUnacknowledged: 0,
      ok: false,
    };
    for (const [deviceId, acked] of this.acked) {
      const counts = new Map<number, number>();
      for (const seq of points.get(deviceId) ?? []) counts.set(seq, (counts.get(seq) ?? 0) + 1);
      const inArchive = new Set(archived.get(deviceId) ?? []);
      const missing: number[] = [];
      const duplicated: number[] = [];
      const notArchived: number[] = [];
      for (const seq of acked) {
        const n = counts.get(seq) ?? 0;
        if (n === 0) missing.push(seq);
        else if (n > 1) duplicated.push(seq);
        else verdict.stored += 1;
        if (!inArchive.has(seq)) notArchived.push(seq);
      }
      for (const seq of counts.keys()) if (!acked.has(seq)) verdict.storedUnacknowledged += 1;
      const sorted = (seqs: number[]) => ({ deviceId, seqs: seqs.sort((a, b) => a - b) });
      if (missing.length > 0) verdict.missing.push(sorted(missing));
      if (duplicated.length > 0) verdict.duplicated.push(sorted(duplicated));
      if (notArchived.length > 0) verdict.notArchived.push(sorted(notArchived));
    }
    verdict.ok =
      verdict.missing.length === 0 && verdict.duplicated.length === 0 && verdict.notArchived.length === 0;
    return verdict;
  }
}
