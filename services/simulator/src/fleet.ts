import { type BrokerOptions, type ConnectionCounts, DeviceConnection } from './device-connection.js';
import type { ModelName } from './device-models.js';
import { type DeviceSettings, SimulatedDevice } from './simulated-device.js';

export type FleetOptions = {
  devices: number;
  prefix: string;
  /** Model names with weights: `{ env: 2, dc: 1 }` makes two of every three devices sensors. */
  types: Partial<Record<ModelName, number>>;
  seed: string;
  payloadVersion: 1 | 2;
  settings: DeviceSettings;
  fwVersion: string;
  bufferSamples: number;
  faultsPerDay: number;
  /** Telemetry messages per second for the whole fleet (Infinity: no limit). */
  rate: number;
  /** New connections per second while the fleet comes up. */
  connectRate: number;
  rebootMs: number;
  otaStepMs: number;
};

export type FleetStats = ConnectionCounts & {
  devices: number;
  /** When every device had connected once, and how much telemetry was acknowledged by then. */
  allConnected?: { atMs: number; telemetryAcked: number };
  samples: number;
  samplesDropped: number;
  buffered: number;
  commands: number;
};

const TICK_MS = 100;

/** The ids a fleet uses: prefix and a zero-padded number from 1 (at least three digits). */
export function fleetDeviceIds(prefix: string, count: number): string[] {
  const width = Math.max(3, String(count).length);
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/** Which model each device of the fleet is: the weights laid out in turn, by device number. */
export function fleetModels(types: Partial<Record<ModelName, number>>, count: number): ModelName[] {
  const pattern = Object.entries(types).flatMap(([name, weight]) =>
    Array.from({ length: weight ?? 0 }, () => name as ModelName),
  );
  if (pattern.length === 0) throw new Error('no device types');
  return Array.from({ length: count }, (_, i) => pattern[i % pattern.length] as ModelName);
}

/**
 * A fleet of simulated devices, each on its own MQTT connection, driven by one timer: every tick
 * each device takes its samples and sends what is due, within the fleet's telemetry rate.
 */
export class Fleet {
  readonly devices: SimulatedDevice[];
  private readonly connections: DeviceConnection[];
  private readonly counts: ConnectionCounts = {
    connected: 0,
    connects: 0,
    published: 0,
    acked: 0,
    telemetryAcked: 0,
    errors: 0,
  };
  private readonly allow = () => this.takeToken();
  private timer: NodeJS.Timeout | undefined;
  private tokens = 0;
  private lastTickMs = 0;
  private opened = 0;
  private allConnected: FleetStats['allConnected'];

  constructor(
    private readonly options: FleetOptions,
    broker: BrokerOptions,
  ) {
    const now = Date.now();
    const ids = fleetDeviceIds(options.prefix, options.devices);
    const models = fleetModels(options.types, options.devices);
    this.devices = ids.map(
      (id, i) =>
        new SimulatedDevice(
          {
            id,
            model: models[i] as ModelName,
            seed: options.seed,
            settings: options.settings,
            payloadVersion: options.payloadVersion,
            fwVersion: options.fwVersion,
            bufferSamples: options.bufferSamples,
            faultsPerDay: options.faultsPerDay,
            // The golden ratio spreads any number of devices evenly over the send interval.
            phase: (i * 0.618_033_988_75) % 1,
            rebootMs: options.rebootMs,
            otaStepMs: options.otaStepMs,
          },
          now,
        ),
    );
    this.connections = this.devices.map((d) => new DeviceConnection(d, broker, this.counts, this.allow));
  }

  start(): void {
    this.lastTickMs = Date.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  stats(): FleetStats {
    let samples = 0;
    let samplesDropped = 0;
    let buffered = 0;
    let commands = 0;
    for (const d of this.devices) {
      samples += d.counts.samples;
      samplesDropped += d.counts.samplesDropped;
      buffered += d.buffered;
      commands += d.counts.commands;
    }
    return {
      ...this.counts,
      devices: this.devices.length,
      allConnected: this.allConnected,
      samples,
      samplesDropped,
      buffered,
      commands,
    };
  }

  /** Stops every device cleanly: last telemetry, `offline`, disconnect (waits up to `timeoutMs`). */
  async stop(timeoutMs = 15_000): Promise<void> {
    clearInterval(this.timer);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.allSettled(this.connections.map((c) => c.stop())), deadline]);
    clearTimeout(timer);
  }

  private tick() {
    const now = Date.now();
    if (!this.allConnected && this.counts.connects >= this.devices.length) {
      this.allConnected = { atMs: now, telemetryAcked: this.counts.telemetryAcked };
    }
    const elapsed = now - this.lastTickMs;
    this.lastTickMs = now;
    const { rate } = this.options;
    // Up to a second's worth is saved up: a late tick loses no sending time.
    this.tokens = Math.min(Math.max(1, rate), this.tokens + (rate * elapsed) / 1000);
    // Devices come up at connectRate; the ones still waiting are not ticked yet.
    const canOpen = Math.max(1, Math.round((this.options.connectRate * elapsed) / 1000));
    this.opened = Math.min(this.devices.length, this.opened + canOpen);
    for (let i = 0; i < this.opened; i += 1) {
      const connection = this.connections[i] as DeviceConnection;
      (this.devices[i] as SimulatedDevice).tick(now, connection, this.allow);
      connection.follow();
    }
  }

  private takeToken(): boolean {
    if (this.options.rate === Number.POSITIVE_INFINITY) return true;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
