import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Read when Prometheus scrapes. */
export type CollectorGauges = {
  unacknowledged: () => number;
  unacknowledgedBytes: () => number;
  windowMessages: () => number;
};

/** The collector's own metrics, registered on the service registry. */
export function createCollectorMetrics(registry: Registry, gauges: CollectorGauges) {
  const registers = [registry];
  // Counted per message in a plain map and handed to the counter when scraped: a labelled
  // increment per message cost more than decoding the message.
  const receivedSinceScrape = new Map<string, number>();
  new Counter({
    name: 'iot_collector_messages_received_total',
    help: 'MQTT messages received, by topic kind',
    labelNames: ['kind'],
    registers,
    collect() {
      for (const [kind, count] of receivedSinceScrape) this.inc({ kind }, count);
      receivedSinceScrape.clear();
    },
  });
  return {
    countReceived(kind: string) {
      receivedSinceScrape.set(kind, (receivedSinceScrape.get(kind) ?? 0) + 1);
    },
    stored: new Counter({
      name: 'iot_collector_messages_stored_total',
      help: 'Messages made durable (points in InfluxDB and raw bytes archived) and acknowledged, by kind',
      labelNames: ['kind'],
      registers,
    }),
    rejected: new Counter({
      name: 'iot_collector_messages_rejected_total',
      help: 'Messages quarantined with a reason code, then acknowledged',
      labelNames: ['reason'],
      registers,
    }),
    points: new Counter({
      name: 'iot_collector_points_written_total',
      help: 'Points written to InfluxDB',
      registers,
    }),
    unacknowledged: new Gauge({
      name: 'iot_collector_unacknowledged_messages',
      help: 'Messages held: received and not yet acknowledged to the broker (those of a lost connection until stored)',
      registers,
      collect() {
        this.set(gauges.unacknowledged());
      },
    }),
    unacknowledgedBytes: new Gauge({
      name: 'iot_collector_unacknowledged_bytes',
      help: 'Payload bytes received and not yet acknowledged to the broker',
      registers,
      collect() {
        this.set(gauges.unacknowledgedBytes());
      },
    }),
    windowMessages: new Gauge({
      name: 'iot_collector_mqtt_window_messages',
      help: 'Messages the collector may hold unacknowledged (its Receive Maximum); halved after a broker reused a packet id',
      registers,
      collect() {
        this.set(gauges.windowMessages());
      },
    }),
    connected: new Gauge({
      name: 'iot_collector_mqtt_connected',
      help: '1 while connected to the broker',
      registers,
    }),
    protocolViolations: new Counter({
      name: 'iot_collector_mqtt_protocol_violations_total',
      help: 'Broker packets that broke MQTT in a way that could misplace an acknowledgement (the connection is dropped and the broker redelivers)',
      labelNames: ['violation'],
      registers,
    }),
    batchMessages: new Histogram({
      name: 'iot_collector_batch_messages',
      help: 'Messages per stored batch',
      buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'iot_collector_batch_store_seconds',
      help: 'Time from a batch being sealed to being durable, retries included',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    storeSeconds: new Histogram({
      name: 'iot_collector_store_write_seconds',
      help: 'Duration of one successful write stage, by store',
      labelNames: ['store'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    storeErrors: new Counter({
      name: 'iot_collector_store_errors_total',
      help: 'Failed batch store attempts (each is retried)',
      registers,
    }),
    sequenceDuplicates: new Counter({
      name: 'iot_collector_sequence_duplicates_total',
      help: 'v2 messages whose seq was already seen (redeliveries and device resends)',
      registers,
    }),
    sequenceGaps: new Counter({
      name: 'iot_collector_sequence_gaps_total',
      help: 'v2 seqs declared missing (not received within the reordering window)',
      registers,
    }),
    sequenceResets: new Counter({
      name: 'iot_collector_sequence_resets_total',
      help: 'Device seq counters that started over (reboots)',
      registers,
    }),
    devicesMarkedOffline: new Counter({
      name: 'iot_collector_devices_marked_offline_total',
      help: 'Devices marked offline after the inactivity timeout',
      registers,
    }),
    lastDurableWrite: new Gauge({
      name: 'iot_collector_last_durable_write_timestamp_seconds',
      help: 'Unix time of the last batch made durable',
      registers,
    }),
  };
}

export type CollectorMetrics = ReturnType<typeof createCollectorMetrics>;
