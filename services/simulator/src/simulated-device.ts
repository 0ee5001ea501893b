import { COMMAND_NAMES, COMMAND_PARAMS, type CommandName, createRandom, SEQ_MAX } from '@iot-meter/common';
import { DEVICE_MODELS, type ModelName, type Sample, type Sampler } from './device-models.js';
import {
  type AckResult,
  commandAck,
  hello,
  type Outgoing,
  samplesPerMessage,
  status,
  telemetryV1,
  telemetryV2,
} from './messages.js';

/** What a device can change at run time (update_config) and gets back on factory_reset. */
export type DeviceSettings = {
  samplingCadenceMs: number;
  sendIntervalS: number;
  helloIntervalS: number;
};

export type DeviceOptions = {
  id: string;
  model: ModelName;
  seed: string;
  settings: DeviceSettings;
  payloadVersion: 1 | 2;
  fwVersion: string;
  /** Samples kept while they cannot be sent; past it the oldest go (counted). */
  bufferSamples: number;
  faultsPerDay: number;
  /** Where in its send interval this device sends, 0–1, so a fleet spreads its messages. */
  phase: number;
  rebootMs: number;
  otaStepMs: number;
};

/** How the device reaches the broker: its MQTT connection. */
export type Link = {
  connected(): boolean;
  /** Sends now, or when the connection is back (the client keeps it). */
  publish(message: Outgoing): void;
};

type Step = { atMs: number; run: (nowMs: number, link: Link) => void };

/**
 * One simulated device: samples its model on a fixed cadence into a buffer, sends the buffer every
 * send interval while connected (after an outage: everything it kept, with the original times),
 * says hello, and answers commands. It is driven by `tick` with the time, so the same seed and
 * the same times give the same messages.
 */
export class SimulatedDevice {
  readonly id: string;
  readonly deviceType: string;
  /** Samples lost to a full buffer, and telemetry messages handed to the link. */
  readonly counts = { samplesDropped: 0, samples: 0, commands: 0 };
  private readonly options: DeviceOptions;
  private settings: DeviceSettings;
  private readonly sampler: Sampler;
  private buffer: Sample[] = [];
  private seq = 0;
  private fwVersion: string;
  private bootMs: number;
  private nextSampleMs: number;
  private nextSendMs: number;
  private nextHelloMs: number;
  private offUntilMs: number | undefined;
  private steps: Step[] = [];
  private otaCommand: { cmdId: string; target: string } | undefined;
  /** Firmware written by an OTA, running from the next boot. */
  private installedFirmware: string | undefined;
  private afterBoot: ((nowMs: number, link: Link) => void)[] = [];

  constructor(options: DeviceOptions, nowMs: number) {
    this.options = options;
    this.id = options.id;
    this.deviceType = DEVICE_MODELS[options.model].deviceType;
    this.settings = { ...options.settings };
    this.fwVersion = options.fwVersion;
    this.sampler = DEVICE_MODELS[options.model].create(
      createRandom(`${options.seed}:${options.id}`),
      options.faultsPerDay,
    );
    this.bootMs = nowMs;
    this.nextSampleMs = this.alignedSample(nowMs);
    this.nextSendMs = nowMs + options.phase * this.settings.sendIntervalS * 1000;
    this.nextHelloMs = nowMs + this.settings.helloIntervalS * 1000;
  }

  /** False while rebooting: the connection goes down and comes back with the device. */
  get powered(): boolean {
    return this.offUntilMs === undefined;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** The Last Will the connection registers. */
  will(): Outgoing {
    return status(this.id, 'offline');
  }

  /**
   * Advances to `nowMs`: takes the samples due, and while connected sends telemetry when due and
   * `allowTelemetry` grants each message (the fleet's rate limit), and hellos.
   */
  tick(nowMs: number, link: Link, allowTelemetry: () => boolean): void {
    if (this.offUntilMs !== undefined) {
      if (nowMs < this.offUntilMs) return;
      this.powerOn(this.offUntilMs);
    }
    while (this.steps.length > 0 && (this.steps[0]?.atMs ?? Infinity) <= nowMs) {
      this.steps.shift()?.run(nowMs, link);
      if (!this.powered) return;
    }
    while (this.nextSampleMs <= nowMs) {
      this.record(this.sampler(this.nextSampleMs));
      this.nextSampleMs += this.settings.samplingCadenceMs;
    }
    if (!link.connected()) return;
    if (nowMs >= this.nextSendMs) {
      this.send(nowMs, link, allowTelemetry);
      const interval = this.settings.sendIntervalS * 1000;
      this.nextSendMs += Math.ceil((nowMs - this.nextSendMs + 1) / interval) * interval;
    }
    if (nowMs >= this.nextHelloMs) {
      this.sayHello(nowMs, link);
      this.nextHelloMs = nowMs + this.settings.helloIntervalS * 1000;
    }
  }

  /** On every (re)connection: online, hello, what was waiting for the connection, the backlog. */
  connected(nowMs: number, link: Link, allowTelemetry: () => boolean): void {
    link.publish(status(this.id, 'online', nowMs));
    this.sayHello(nowMs, link);
    for (const run of this.afterBoot.splice(0)) run(nowMs, link);
    this.send(nowMs, link, allowTelemetry);
  }

  /** A clean stop: sends what it holds, then says it is offline. */
  stop(nowMs: number, link: Link): void {
    if (link.connected()) this.send(nowMs, link, () => true);
    link.publish(status(this.id, 'offline', nowMs));
  }

  /** A message on `iot/{id}/command`. */
  command(payload: Buffer, nowMs: number, link: Link): void {
    this.counts.commands += 1;
    let message: { cmd_id?: unknown; cmd?: unknown; params?: unknown };
    try {
      message = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // nothing to answer to without a cmd_id
    }
    if (typeof message !== 'object' || message === null || typeof message.cmd_id !== 'string') return;
    const cmdId = message.cmd_id;
    const ack = (result: AckResult, detail: string) =>
      link.publish(commandAck(this.id, this.nextSeq(), nowMs, { cmdId, result, detail }));
    if (typeof message.cmd !== 'string' || !(COMMAND_NAMES as string[]).includes(message.cmd)) {
      ack('unsupported', `Unknown command: ${String(message.cmd)}`);
      return;
    }
    const cmd = message.cmd as CommandName;
    const params = COMMAND_PARAMS[cmd].safeParse(message.params ?? {});
    if (!params.success) {
      ack(
        'rejected',
        `invalid params: ${params.error.issues.map((i) => `${i.path.join('.') || 'params'} ${i.message}`).join('; ')}`,
      );
      return;
    }
    switch (cmd) {
      case 'update_config': {
        const p = params.data as {
          sampling_cadence_ms?: number;
          send_interval_s?: number;
          hello_interval_s?: number;
          brokers?: unknown[];
        };
        const changes: string[] = [];
        if (
          p.sampling_cadence_ms !== undefined &&
          p.sampling_cadence_ms !== this.settings.samplingCadenceMs
        ) {
          this.settings.samplingCadenceMs = p.sampling_cadence_ms;
          this.nextSampleMs = this.alignedSample(nowMs);
          changes.push(`sampling_cadence_ms=${p.sampling_cadence_ms}`);
        }
        if (p.send_interval_s !== undefined && p.send_interval_s !== this.settings.sendIntervalS) {
          this.settings.sendIntervalS = p.send_interval_s;
          this.nextSendMs = nowMs + p.send_interval_s * 1000;
          changes.push(`send_interval_s=${p.send_interval_s}`);
        }
        if (p.hello_interval_s !== undefined && p.hello_interval_s !== this.settings.helloIntervalS) {
          this.settings.helloIntervalS = p.hello_interval_s;
          this.nextHelloMs = nowMs + p.hello_interval_s * 1000;
          changes.push(`hello_interval_s=${p.hello_interval_s}`);
        }
        const brokers = p.brokers ? ' (brokers are not applied: the simulator keeps its broker)' : '';
        ack(
          'accepted',
          `${changes.length > 0 ? `Config updated: ${changes.join(', ')}` : 'No changes applied'}${brokers}`,
        );
        return;
      }
      case 'request_status':
        ack('accepted', 'Status requested');
        this.sayHello(nowMs, link);
        return;
      case 'reboot':
        ack('accepted', `Rebooting (back in ${this.options.rebootMs} ms)`);
        this.reboot(nowMs, link);
        return;
      case 'factory_reset':
        ack('accepted', 'Factory reset: settings restored, rebooting');
        this.settings = { ...this.options.settings };
        this.reboot(nowMs, link);
        return;
      case 'start_ota': {
        const target = (params.data as { fw_version: string }).fw_version;
        if (this.otaCommand) {
          ack('rejected', `OTA to ${this.otaCommand.target} already in progress`);
          return;
        }
        this.otaCommand = { cmdId, target };
        ack('accepted', `OTA started: ${this.fwVersion} → ${target}`);
        this.scheduleOta(nowMs, cmdId, target);
        return;
      }
    }
  }

  private scheduleOta(nowMs: number, cmdId: string, target: string) {
    const progress = (detail: string) => (at: number, link: Link) =>
      link.publish(commandAck(this.id, this.nextSeq(), at, { cmdId, result: 'accepted', detail }));
    const stages = [
      'downloading 25%',
      'downloading 50%',
      'downloading 75%',
      'downloading 100%',
      'verifying sha256',
      'applying',
    ];
    const step = this.options.otaStepMs;
    stages.forEach((stage, i) => {
      this.steps.push({ atMs: nowMs + (i + 1) * step, run: progress(stage) });
    });
    this.steps.push({
      atMs: nowMs + (stages.length + 1) * step,
      run: (at, link) => {
        this.installedFirmware = target;
        this.afterBoot.push((bootedAt, after) => {
          after.publish(
            commandAck(this.id, this.nextSeq(), bootedAt, {
              cmdId,
              result: 'success',
              detail: `firmware ${target} running`,
            }),
          );
        });
        this.reboot(at, link);
      },
    });
  }

  /** Sends what was kept, then goes down for `rebootMs`: no samples meanwhile, seq starts over. */
  private reboot(nowMs: number, link: Link) {
    this.stop(nowMs, link);
    this.offUntilMs = nowMs + this.options.rebootMs;
    this.steps = [];
  }

  private powerOn(atMs: number) {
    this.offUntilMs = undefined;
    if (this.installedFirmware !== undefined) {
      this.fwVersion = this.installedFirmware;
      this.installedFirmware = undefined;
      this.otaCommand = undefined;
    }
    this.seq = 0;
    this.bootMs = atMs;
    this.buffer = [];
    this.nextSampleMs = this.alignedSample(atMs);
    this.nextSendMs = atMs + this.options.phase * this.settings.sendIntervalS * 1000;
    this.nextHelloMs = atMs + this.settings.helloIntervalS * 1000;
  }

  private send(nowMs: number, link: Link, allowTelemetry: () => boolean) {
    const perMessage =
      this.options.payloadVersion === 1 ? 1 : samplesPerMessage(this.buffer[0]?.measurements.length ?? 1);
    while (this.buffer.length > 0 && allowTelemetry()) {
      const chunk = this.buffer.splice(0, perMessage);
      link.publish(
        this.options.payloadVersion === 1
          ? telemetryV1(this.id, chunk[0] as Sample)
          : telemetryV2(this.id, this.nextSeq(), nowMs, chunk),
      );
    }
  }

  private sayHello(nowMs: number, link: Link) {
    link.publish(
      hello(this.id, this.nextSeq(), nowMs, {
        fw_version: this.fwVersion,
        uptime_s: Math.floor((nowMs - this.bootMs) / 1000),
        buf_usage_pct: Math.min(100, Math.round((this.buffer.length / this.options.bufferSamples) * 100)),
      }),
    );
  }

  private record(sample: Sample) {
    this.counts.samples += 1;
    this.buffer.push(sample);
    if (this.buffer.length > this.options.bufferSamples) {
      this.buffer.shift();
      this.counts.samplesDropped += 1;
    }
  }

  private nextSeq(): number {
    const seq = this.seq;
    this.seq = seq === SEQ_MAX ? 0 : seq + 1;
    return seq;
  }

  /** The first sample time at or after `ms` on the cadence grid (clocks tick on whole periods). */
  private alignedSample(ms: number): number {
    const cadence = this.settings.samplingCadenceMs;
    return Math.ceil(ms / cadence) * cadence;
  }
}
