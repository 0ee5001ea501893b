import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createMetricsRegistry, createOpsRoutes, serve } from '@iot-meter/common';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { PrivateStack } from '../../scripts/stack/private-stack.js';
import {
  BrokerExporterProcess,
  overfillOfflineSession,
} from '../../services/collector/test/broker-exporter-harness.js';
import { CollectorHarness } from '../../services/collector/test/collector-harness.js';
import { createWebhookNotifier } from '../../services/device-manager/src/webhooks/webhook-notifier.js';
import { ApiHarness } from '../../services/device-manager/test/api-harness.js';
import { type K8sObject, offlineChart, render } from './render.js';

// Every Prometheus query of the chart's dashboards, run by the local stack's Prometheus against a
// collector and the API that it scrapes (each in this process, behind a real HTTP /metrics) and the
// broker's exporter on a broker of its own, made to drop messages (5 queued per session at most),
// whose alert must then fire. The API's alert rule evaluator and webhook notifier run here too, on a
// registry of their own behind a /metrics of its own, with a rule that fires and two webhooks, one
// taking its notification and one refusing it (which stays pending).
const env = inject('stackEnv');
const run = randomBytes(4).toString('hex');
const targetFile = join(env.PROMETHEUS_TARGETS_DIR ?? '', `dashboards-${run}.json`);
const collector = new CollectorHarness(env);
const api = new ApiHarness(env);
const servers: { close(): Promise<void> }[] = [];
const broker = new PrivateStack(810, { IOT_STACK_MOSQUITTO_EXTRA: 'max_queued_messages 5\nsys_interval 1' });
let brokerExporter: BrokerExporterProcess | undefined;

type Dashboard = { uid: string; panels: { title: string; targets?: { expr?: string; query?: string }[] }[] };
const configMaps = render(env.HELM_BIN ?? 'helm', offlineChart()).filter(
  (o): o is K8sObject & { data: Record<string, string> } =>
    o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1',
);
const dashboards = configMaps.flatMap((c) =>
  Object.values(c.data).map((json) => JSON.parse(json) as Dashboard),
);

/** A webhook receiver on loopback answering every request with `status`. */
async function webhookReceiver(status: number) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function query(promql: string) {
  const url = `${env.PROMETHEUS_URL}/api/v1/query?query=${encodeURIComponent(promql)}`;
  const body = (await (await fetch(url)).json()) as {
    status: string;
    error?: string;
    data?: { result: unknown[] };
  };
  return body;
}

beforeAll(async () => {
  broker.up('mosquitto');
  brokerExporter = new BrokerExporterProcess(broker.env, 18_811);
  await brokerExporter.start();
  await collector.start();
  await api.start();
  const collectorServer = await serve(
    createOpsRoutes({ service: 'collector', registry: collector.registry }),
    0,
    { hostname: '127.0.0.1' },
  );
  const apiServer = await serve(api.app, 0, { hostname: '127.0.0.1' });
  const alertsRegistry = createMetricsRegistry('device-manager');
  const alertsServer = await serve(
    createOpsRoutes({ service: 'device-manager', registry: alertsRegistry }),
    0,
    { hostname: '127.0.0.1' },
  );
  const taking = await webhookReceiver(204);
  const refusing = await webhookReceiver(503);
  servers.push(collectorServer, apiServer, alertsServer, taking, refusing);
  await writeFile(
    targetFile,
    JSON.stringify([
      {
        targets: [
          `127.0.0.1:${collectorServer.port}`,
          `127.0.0.1:${apiServer.port}`,
          `127.0.0.1:${alertsServer.port}`,
          '127.0.0.1:18811',
        ],
        labels: { run },
      },
    ]),
  );
  // The exporter is scraped before the drop, so that the counter's increase is seen.
  const scraped = async () => (await query(`mosquitto_up{run="${run}"}`)).data?.result.length ?? 0;
  await vi.waitFor(
    async () => expect(await scraped(), 'a scrape of the broker exporter').toBeGreaterThan(0),
    {
      timeout: 30_000,
      interval: 500,
    },
  );
  await overfillOfflineSession(broker.env, 'collector-dashboards', 15);
  // Traffic for every panel: telemetry, one message for the quarantine, API answers.
  const publisher = await collector.publisher();
  const device = `dash-${run}`;
  for (let seq = 0; seq < 20; seq += 1) {
    await publisher.publishAsync(
      `iot/${device}/telemetry`,
      JSON.stringify({
        v: 2,
        device_id: device,
        ts: new Date().toISOString(),
        seq,
        msg_type: 'telemetry',
        measurements: [{ type: 'power', val: seq }],
      }),
      { qos: 1 },
    );
  }
  await publisher.publishAsync(`iot/${device}/telemetry`, 'not json', { qos: 1 });
  await api.call('POST', '/api/devices', { json: { device_id: device, device_name: 'Dashboards' } });
  await api.call('GET', '/api/devices');
  await api.call('GET', '/api/devices/nobody');
  // A rule alert that fires and stays open, notified to both webhooks: one delivery, one failure.
  for (const [name, receiver] of [
    ['taking', taking],
    ['refusing', refusing],
  ] as const) {
    const hook = await api.call('POST', '/api/webhooks', {
      json: { name, url: receiver.url, secret: 'a-webhook-secret-of-32-characters!' },
    });
    expect(hook.status).toBe(201);
  }
  const rule = await api.call('POST', '/api/alert-rules', {
    json: {
      name: 'dashboards-power',
      kind: 'threshold',
      metric: 'power',
      condition: { op: '>', value: 10 },
      scope: { device_ids: [device] },
      severity: 'warning',
    },
  });
  expect(rule.status).toBe(201);
  await api.writePoints([`iot_telemetry,device_id=${device},metric=power value=15 ${Date.now() - 5000}`]);
  const { evaluator } = api.ruleEvaluator([4245, 1], { registry: alertsRegistry });
  expect(await evaluator.pass()).toEqual({ leading: true, rules: 1, failed: 0, opened: 1, closed: 0 });
  const webhooks = createWebhookNotifier({
    db: api.apiDb,
    logger: api.logger,
    registry: alertsRegistry,
    allowedNetworks: ['127.0.0.1'],
  });
  expect(await webhooks.deliver()).toEqual({ delivered: 1, retrying: 1, failed: 0 });
  // Three scrapes of each target after the traffic, so every rate() has its samples.
  const scrapes = async () => {
    const result = (await query(`count_over_time(iot_collector_messages_stored_total{run="${run}"}[1m])`))
      .data?.result as { value: [number, string] }[] | undefined;
    return Number(result?.[0]?.value[1] ?? 0);
  };
  await vi.waitFor(
    async () => expect(await scrapes(), 'three scrapes after the traffic').toBeGreaterThanOrEqual(3),
    { timeout: 30_000, interval: 500 },
  );
  // The notifications counter appears at its first delivery, late in the traffic: rate() needs its own scrapes.
  const notificationScrapes = async () => {
    const result = (await query(`min(count_over_time(iot_alert_notifications_total{run="${run}"}[1m]))`)).data
      ?.result as { value: [number, string] }[] | undefined;
    return Number(result?.[0]?.value[1] ?? 0);
  };
  await vi.waitFor(
    async () =>
      expect(await notificationScrapes(), 'three scrapes after the notifications').toBeGreaterThanOrEqual(3),
    { timeout: 30_000, interval: 500 },
  );
}, 120_000);

afterAll(async () => {
  await rm(targetFile, { force: true });
  brokerExporter?.stop();
  broker.destroy();
  await Promise.all(servers.map((s) => s.close()));
  await collector.dispose();
  await api.dispose();
});

describe('Grafana dashboards', () => {
  it('ship "Pipeline" and "Fleet" as sidecar ConfigMaps', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(['iot-meter-fleet', 'iot-meter-pipeline']);
  });

  it('every Prometheus query answers with data from the running services', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const dashboard of dashboards) {
      for (const panel of dashboard.panels) {
        // A row has no queries; the Flux panel reads InfluxDB.
        for (const target of panel.targets ?? []) {
          if (!target.expr) continue;
          checked += 1;
          const body = await query(target.expr.replaceAll('$__rate_interval', '1m'));
          if (body.status !== 'success' || (body.data?.result.length ?? 0) === 0) {
            failures.push(`${dashboard.uid} / ${panel.title}: ${body.error ?? 'no data'} — ${target.expr}`);
          }
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(28);
  });
});

describe('alerts', () => {
  const rule = render(env.HELM_BIN ?? 'helm', offlineChart(), {
    apiVersions: ['monitoring.coreos.com/v1/PrometheusRule'],
  }).find((o) => o.kind === 'PrometheusRule');
  const spec = rule?.spec as { groups: { rules: { alert: string; expr: string }[] }[] } | undefined;
  const expr = (alert: string) => spec?.groups[0]?.rules.find((r) => r.alert === alert)?.expr ?? '';

  it("fire on the broker's dropped messages, and not on a broker that is up", async () => {
    await expect
      .poll(
        async () => (await query(`mosquitto_publish_messages_dropped_total{run="${run}"}`)).data?.result,
        {
          timeout: 15_000,
        },
      )
      .toMatchObject([{ value: [expect.any(Number), '10'] }]);
    const dropping = (await query(expr('IoTMeterBrokerDroppingMessages'))).data?.result as {
      value: [number, string];
    }[];
    expect(dropping).toHaveLength(1);
    expect(Number(dropping[0]?.value[1])).toBeGreaterThan(0);
    expect((await query(expr('IoTMeterBrokerDown'))).data?.result).toEqual([]);
  });
});
