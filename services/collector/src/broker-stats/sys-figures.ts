import { Counter, Gauge, type Registry } from 'prom-client';

type Figure = {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly label?: readonly [name: string, value: string];
};

const counter = (name: string, help: string): Figure => ({ name, help, type: 'counter' });
const gauge = (name: string, help: string, label?: readonly [string, string]): Figure => ({
  name,
  help,
  type: 'gauge',
  ...(label && { label }),
});

/**
 * The figures Mosquitto 2.0 publishes under `$SYS/broker/` (src/sys_tree.c) that tell whether
 * messages are safe, by topic below that prefix. Counters are the broker's totals since it started.
 */
const FIGURES: Readonly<Record<string, Figure>> = {
  'publish/messages/dropped': counter(
    'mosquitto_publish_messages_dropped_total',
    'PUBLISH messages the broker dropped (a session past max_queued_messages or max_queued_bytes) although the publisher got its PUBACK',
  ),
  'publish/messages/received': counter(
    'mosquitto_publish_messages_received_total',
    'PUBLISH messages received',
  ),
  'publish/messages/sent': counter('mosquitto_publish_messages_sent_total', 'PUBLISH messages sent'),
  'messages/received': counter('mosquitto_messages_received_total', 'MQTT packets of any type received'),
  'messages/sent': counter('mosquitto_messages_sent_total', 'MQTT packets of any type sent'),
  'bytes/received': counter('mosquitto_received_bytes_total', 'Bytes received'),
  'bytes/sent': counter('mosquitto_sent_bytes_total', 'Bytes sent'),
  'store/messages/count': gauge(
    'mosquitto_store_messages',
    'Messages the broker holds: queued for sessions, in flight and retained',
  ),
  'store/messages/bytes': gauge(
    'mosquitto_store_messages_bytes',
    'Payload bytes of the messages the broker holds',
  ),
  'clients/connected': gauge(
    'mosquitto_clients',
    'Clients by state: connected, or disconnected with a session kept',
    ['state', 'connected'],
  ),
  'clients/disconnected': gauge(
    'mosquitto_clients',
    'Clients by state: connected, or disconnected with a session kept',
    ['state', 'disconnected'],
  ),
  'clients/expired': counter('mosquitto_clients_expired_total', 'Sessions removed because they expired'),
  'subscriptions/count': gauge('mosquitto_subscriptions', 'Subscriptions, shared ones included'),
  'shared_subscriptions/count': gauge('mosquitto_shared_subscriptions', 'Shared subscriptions'),
  'retained messages/count': gauge('mosquitto_retained_messages', 'Retained messages'),
  'heap/current': gauge('mosquitto_heap_bytes', 'Heap in use by the broker'),
  uptime: gauge('mosquitto_uptime_seconds', 'Seconds since the broker started'),
};

export const SYS_PREFIX = '$SYS/broker/';

/**
 * The broker's `$SYS` figures as Prometheus metrics. A figure appears once the broker has published
 * it, so a restarted exporter never shows a counter at 0 before it jumps to the broker's total; a
 * broker restart shows as the counter reset it is.
 */
export class SysFigures {
  private readonly values = new Map<string, number>();
  private readonly metrics = new Map<string, Counter<string> | Gauge<string>>();
  private version: string | undefined;

  constructor(private readonly registry: Registry) {
    const figures = this;
    new Gauge({
      name: 'mosquitto_broker_info',
      help: 'The broker version, from $SYS/broker/version',
      labelNames: ['version'],
      registers: [registry],
      collect() {
        this.reset();
        if (figures.version) this.set({ version: figures.version }, 1);
      },
    });
  }

  /** Takes one `$SYS` message; returns false for a topic or value it does not export. */
  update(topic: string, payload: string): boolean {
    if (!topic.startsWith(SYS_PREFIX)) return false;
    const path = topic.slice(SYS_PREFIX.length);
    if (path === 'version') {
      this.version = payload.replace(/^mosquitto version /, '');
      return true;
    }
    const figure = FIGURES[path];
    // "uptime" reads "1234 seconds"; the others are plain numbers.
    const value = Number.parseFloat(payload);
    if (!figure || !Number.isFinite(value)) return false;
    this.values.set(path, value);
    this.register(figure);
    return true;
  }

  /** Figures seen so far. */
  get size(): number {
    return this.values.size;
  }

  private register(figure: Figure): void {
    if (this.metrics.has(figure.name)) return;
    const paths = Object.keys(FIGURES).filter((path) => FIGURES[path]?.name === figure.name);
    const values = this.values;
    const labelNames = figure.label ? [figure.label[0]] : [];
    // Each scrape reports the latest totals as they are: set for a gauge, reset and add for a counter.
    const collect = function (this: Counter<string> | Gauge<string>) {
      this.reset();
      for (const path of paths) {
        const value = values.get(path);
        const label = FIGURES[path]?.label;
        if (value === undefined) continue;
        const labels = label ? { [label[0]]: label[1] } : {};
        if (this instanceof Counter) this.inc(labels, value);
        else this.set(labels, value);
      }
    };
    const options = { name: figure.name, help: figure.help, labelNames, registers: [this.registry], collect };
    this.metrics.set(figure.name, figure.type === 'counter' ? new Counter(options) : new Gauge(options));
  }
}
