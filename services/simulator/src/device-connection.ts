import { deviceTopic, type MqttClientOptions, reconnectWithBackoff } from '@iot-meter/common';
import mqtt, { type MqttClient } from 'mqtt';
import type { Outgoing } from './messages.js';
import type { Link, SimulatedDevice } from './simulated-device.js';

/** The broker (and the CAs to trust for mqtts://), and how each device signs in: its own credentials, or the fleet's one account. */
export type BrokerOptions = Pick<MqttClientOptions, 'ca'> & {
  url: string;
  login: (deviceId: string) => { username?: string | undefined; password?: string | undefined };
};

/** What every connection of a fleet adds to. */
export type ConnectionCounts = {
  connected: number;
  connects: number;
  published: number;
  acked: number;
  telemetryAcked: number;
  errors: number;
};

// Like a real device: its id as the MQTT client id, a persistent MQTT 5 session (commands sent
// while it is briefly away wait for it), and its Last Will on the status topic.
const SESSION_EXPIRY_S = 3600;

/**
 * A device's own MQTT connection (MQTT.js). QoS 1 throughout; a publish made while the connection
 * is down waits in the client and goes out on reconnect, before anything newer.
 */
export class DeviceConnection implements Link {
  private client: MqttClient | undefined;
  private stopping = false;

  constructor(
    private readonly device: SimulatedDevice,
    private readonly broker: BrokerOptions,
    private readonly counts: ConnectionCounts,
    private readonly allowTelemetry: () => boolean,
  ) {}

  connected(): boolean {
    return this.client?.connected === true;
  }

  publish(message: Outgoing): void {
    const client = this.client;
    if (!client) return;
    this.counts.published += 1;
    client.publish(
      deviceTopic(this.device.id, message.kind),
      message.payload,
      { qos: 1, retain: message.retain === true },
      (err) => {
        if (err) {
          this.counts.errors += 1;
          return;
        }
        this.counts.acked += 1;
        if (message.kind === 'telemetry') this.counts.telemetryAcked += 1;
      },
    );
  }

  /** Connects while the device is powered and disconnects while it is not (a reboot). */
  follow(): void {
    if (this.stopping) return;
    if (this.device.powered && !this.client) this.open();
    if (!this.device.powered && this.client) void this.close();
  }

  /** A clean stop: the device's last messages and `offline`, then the session is dropped. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.client) return;
    this.device.stop(Date.now(), this);
    await this.close(0);
  }

  private open() {
    const will = this.device.will();
    const client = mqtt.connect(this.broker.url, {
      clientId: this.device.id,
      ...this.broker.login(this.device.id),
      ca: this.broker.ca,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
      keepalive: 30,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      will: {
        topic: deviceTopic(this.device.id, will.kind),
        payload: Buffer.from(will.payload),
        qos: 1,
        retain: true,
      },
    });
    reconnectWithBackoff(client);
    this.client = client;
    let up = false;
    client.on('connect', (connack) => {
      up = true;
      this.counts.connected += 1;
      this.counts.connects += 1;
      // MQTT.js subscribes again by itself after a reconnect that lost the session.
      if (!connack.sessionPresent) client.subscribe(deviceTopic(this.device.id, 'command'), { qos: 1 });
      this.device.connected(Date.now(), this, this.allowTelemetry);
    });
    client.on('close', () => {
      if (up) this.counts.connected -= 1;
      up = false;
    });
    client.on('message', (_topic, payload) => this.device.command(payload, Date.now(), this));
    client.on('error', () => {
      this.counts.errors += 1;
    });
  }

  /** Ends the connection once what was published is acknowledged; `sessionExpiry: 0` drops the session. */
  private async close(sessionExpiry?: number) {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    await client.endAsync(
      false,
      sessionExpiry === undefined ? {} : { properties: { sessionExpiryInterval: sessionExpiry } },
    );
  }
}
