import mqtt from 'mqtt';

const c = await mqtt.connectAsync(process.env.MQTT_URL, {
  protocolVersion: 5,
  clientId: 'repro-pub',
  reconnectPeriod: 300,
});
const dev = 'repro-' + Date.now();
for (let i = 0; i < 1500; i++) {
  const ts = new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000).toISOString();
  await c.publishAsync(
    `iot/${dev}/telemetry`,
    JSON.stringify({
      v: 2,
      device_id: dev,
      ts,
      seq: i,
      msg_type: 'telemetry',
      measurements: [{ ts, type: 'energy', val: i }],
    }),
    { qos: 1 },
  );
  await new Promise((r) => setTimeout(r, 3));
}
console.log('published', dev);
await c.endAsync();
