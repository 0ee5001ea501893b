import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { loadConfig, loadMqttClientOptions, mqttEnv } from '@iot-meter/common';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { BrokerAccountsSync } from '../src/broker-accounts/broker-accounts-sync.js';
import { ApiHarness } from './api-harness.js';
import { AuthBroker, startSyncFor, stopAll, tryConnect } from './auth-broker.js';
import { createTestCertificates } from './test-certificates.js';

// The chart's TLS listener for devices (docs/security.md §5): the devices' accounts and ACL behind a
// server certificate from a CA made here, and a client that trusts that CA through MQTT_CA_FILE.
const stackEnv = inject('stackEnv');
const certificates = createTestCertificates('broker-tls');
// 1766x: this file's own (no stack, soak or other test file uses them).
const broker = new AuthBroker(
  { devices: 17660, services: 17661 },
  { tls: { port: 17662, certFile: certificates.certFile, keyFile: certificates.keyFile } },
);
const tlsUrl = broker.deviceTlsUrl ?? '';
const api = new ApiHarness(stackEnv);
const collectorPassword = randomBytes(16).toString('hex');
const devicePassword = randomBytes(16).toString('hex');
const clients: MqttClient[] = [];
let sync: BrokerAccountsSync;
let device = { username: '', password: '' };

const NOT_AUTHORIZED = 135;

beforeAll(async () => {
  broker.setServicePassword('collector', collectorPassword);
  broker.setServicePassword('device-manager', devicePassword);
  await broker.start();
  await api.start(
    {},
    { mqttUrl: broker.serviceUrl, mqttUsername: '@device-manager', mqttPassword: devicePassword },
  );
  sync = startSyncFor(broker, api);
  const r = await api.call('POST', '/api/devices', { json: { device_id: 'tls-1', device_name: 'tls' } });
  expect(r.status).toBe(201);
  device = (r.json as { mqtt_credentials: { username: string; password: string } }).mqtt_credentials;
  await sync.applied();
});
afterAll(async () => {
  await stopAll({ clients, sync, api, broker });
  rmSync(certificates.dir, { recursive: true, force: true });
});

async function connect(url: string, options: IClientOptions) {
  const client = await tryConnect(url, options);
  if (typeof client === 'object') clients.push(client);
  return client;
}

/** A device's connection options as our services build them from the environment. */
const fromEnv = (env: Record<string, string>) =>
  loadMqttClientOptions(loadConfig(mqttEnv, { MQTT_URL: tlsUrl, ...env }));

describe('the devices’ TLS listener', () => {
  it('admits a device with its credentials, trusting the CA by MQTT_CA_FILE, and delivers its telemetry', async () => {
    const collector = await connect(broker.serviceUrl, {
      username: '@collector',
      password: collectorPassword,
    });
    if (typeof collector !== 'object') throw new Error(`the collector was refused: ${collector}`);
    const received: string[] = [];
    collector.on('message', (topic, payload) => received.push(`${topic} ${payload}`));
    await collector.subscribeAsync('iot/+/telemetry', { qos: 1 });

    const options = fromEnv({
      MQTT_USERNAME: device.username,
      MQTT_PASSWORD: device.password,
      MQTT_CA_FILE: certificates.caFile,
    });
    expect(options.ca?.toString('utf8')).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    const client = await connect(tlsUrl, options);
    if (typeof client !== 'object') throw new Error(`the device was refused: ${client}`);
    // The listener's own settings: its username is its client id, whatever it asked for.
    expect(client.options.clientId).not.toBe('tls-1');
    await client.publishAsync('iot/tls-1/telemetry', '{"temperature":21.5}', { qos: 1 });
    await expect
      .poll(() => received, { timeout: 5000 })
      .toEqual(['iot/tls-1/telemetry {"temperature":21.5}']);
    // And the devices' ACL holds it to its own topics here too.
    await expect(client.publishAsync('iot/tls-2/telemetry', '{}', { qos: 1 })).rejects.toMatchObject({
      code: NOT_AUTHORIZED,
    });
  });

  it('is refused at the TLS handshake by a client that does not trust the CA', async () => {
    const credentials = { username: device.username, password: device.password };
    // What the broker answers to this device's CONNECT (a refused password gets one too; the
    // listener makes its username its client id). Other clients (the API's) may connect meanwhile.
    const connacks = () =>
      broker.log.split('\n').filter((line) => line.includes(`Sending CONNACK to ${device.username} `)).length;
    const before = connacks();
    // Node's default roots (no root signed the broker's certificate)…
    expect(await connect(tlsUrl, credentials)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // …or another CA: no better.
    const other = createTestCertificates('other');
    const withOther = fromEnv({ MQTT_CA_FILE: other.caFile });
    expect(await connect(tlsUrl, { ...credentials, ca: withOther.ca })).toBe(
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    );
    rmSync(other.dir, { recursive: true, force: true });
    // Neither got as far as sending its credentials: the handshake ended, no CONNECT reached the broker.
    expect(connacks()).toBe(before);
  });

  it('refuses a wrong password or no credentials over TLS with CONNACK 0x87', async () => {
    const ca = fromEnv({ MQTT_CA_FILE: certificates.caFile }).ca;
    expect(await connect(tlsUrl, { username: device.username, password: `${device.password}x`, ca })).toBe(
      NOT_AUTHORIZED,
    );
    expect(await connect(tlsUrl, { ca })).toBe(NOT_AUTHORIZED);
  });

  it('stops the service at start-up when MQTT_CA_FILE names no file', () => {
    expect(() => fromEnv({ MQTT_CA_FILE: `${certificates.dir}/missing.pem` })).toThrow(/ENOENT/);
  });
});
