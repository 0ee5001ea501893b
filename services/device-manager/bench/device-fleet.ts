// A child process of the broker account benchmark (broker-accounts-bench.ts), forked with an IPC
// channel: devices as raw MQTT 3.1.1 clients on mqtt-packet, a socket and a parser each (MQTT.js
// costs far more per connection, and 10,000 of them would starve the broker of the machine's CPU).
// Told a `fleet` job it holds one idle connection per device, `concurrency` connects in flight, and
// reports every connection the broker refuses or closes; told a `probe` job it publishes QoS 1 on
// its device's telemetry topic every `intervalMs` and times each PUBACK, for the parent to query.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import mqttPacket, { type Packet } from 'mqtt-packet';

export type DeviceLogin = { username: string; password: string };

export type FleetJob =
  | { role: 'fleet'; port: number; devices: DeviceLogin[]; concurrency: number }
  | { role: 'probe'; port: number; device: DeviceLogin; intervalMs: number };

/** What the parent asks a probe: its publishes sent in [from, to] (wall-clock ms). */
export type ProbeQuery = { from: number; to: number };

export type FleetReport =
  | { event: 'ready'; connected: number; refused: { username: string; code: number }[] }
  | { event: 'closed'; username: string; at: number }
  /** PUBACK round trips (ms) of the publishes sent in the range asked, and when those unanswered were sent. */
  | { event: 'samples'; latencies: number[]; unanswered: number[] };

// Wall-clock milliseconds with sub-millisecond resolution, comparable across the benchmark's processes.
const clock = () => performance.timeOrigin + performance.now();
// Idle connections ping at half their keepalive, spread over the whole interval.
const KEEPALIVE_S = 300;
const PINGREQ = mqttPacket.generate({ cmd: 'pingreq' });

const send = (report: FleetReport) => process.send?.(report);
let stopping = false;

process.once('message', (job: FleetJob) => {
  if (job.role === 'fleet') holdFleet(job);
  else void probe(job);
});
process.on('SIGTERM', () => {
  stopping = true;
  process.exit(0);
});
// The parent gone (killed, say), nothing here has a reason to stay.
process.on('disconnect', () => process.exit(0));

/**
 * Connects `device` (its username is its client id); calls back with CONNACK's return code (0:
 * accepted), or -1 when the socket closed first, and hands every later packet to `onPacket`.
 */
function connectDevice(
  port: number,
  device: DeviceLogin,
  onConnack: (socket: Socket, code: number) => void,
  onPacket: (packet: Packet) => void = () => {},
): void {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let answered = false;
  parser.on('packet', (packet) => {
    if (answered) return onPacket(packet);
    answered = true;
    onConnack(socket, packet.cmd === 'connack' ? (packet.returnCode ?? -1) : -1);
  });
  socket.on('connect', () =>
    socket.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: true,
        clientId: device.username,
        keepalive: KEEPALIVE_S,
        username: device.username,
        password: Buffer.from(device.password),
      }),
    ),
  );
  socket.on('data', (chunk) => parser.parse(chunk));
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!answered) {
      answered = true;
      onConnack(socket, -1);
    }
  });
}

function holdFleet(job: Extract<FleetJob, { role: 'fleet' }>): void {
  const open: Socket[] = [];
  const refused: { username: string; code: number }[] = [];
  let next = 0;
  let inFlight = 0;
  const pump = () => {
    while (inFlight < job.concurrency && next < job.devices.length) {
      const device = job.devices[next++] as DeviceLogin;
      inFlight += 1;
      connectDevice(job.port, device, (socket, code) => {
        inFlight -= 1;
        if (code === 0) {
          open.push(socket);
          socket.on('close', () => {
            if (!stopping) send({ event: 'closed', username: device.username, at: clock() });
          });
        } else {
          refused.push({ username: device.username, code });
          socket.destroy();
        }
        if (open.length + refused.length === job.devices.length) {
          send({ event: 'ready', connected: open.length, refused });
        }
        pump();
      });
    }
  };
  pump();
  if (job.devices.length === 0) send({ event: 'ready', connected: 0, refused });
  const slices = KEEPALIVE_S / 2;
  let slice = 0;
  setInterval(() => {
    for (let i = slice; i < open.length; i += slices) open[i]?.write(PINGREQ);
    slice = (slice + 1) % slices;
  }, 1000);
}

// The probe is a registered device: the devices' ACL lets it publish on its own telemetry topic and
// nothing else, and no service account may publish at all, so the broker's answer to its own
// publish (the PUBACK) is what it times. Mosquitto handles every client on one event loop, so a
// PUBACK held up is the broker held up, whatever it was busy with.
async function probe(job: Extract<FleetJob, { role: 'probe' }>): Promise<void> {
  const sentAt = new Map<number, number>();
  // In the order sent: the broker answers one connection's publishes in order.
  const answered: { sent: number; latency: number }[] = [];
  const socket = await new Promise<Socket>((resolve, reject) =>
    connectDevice(
      job.port,
      job.device,
      (s, code) => (code === 0 ? resolve(s) : reject(new Error(`probe refused: ${code}`))),
      (packet) => {
        if (packet.cmd !== 'puback' || packet.messageId === undefined) return;
        const sent = sentAt.get(packet.messageId);
        if (sent === undefined) return;
        sentAt.delete(packet.messageId);
        answered.push({ sent, latency: clock() - sent });
      },
    ),
  );
  socket.on('close', () => {
    if (!stopping) send({ event: 'closed', username: job.device.username, at: clock() });
  });
  const topic = `iot/${job.device.username}/telemetry`;
  let messageId = 0;
  setInterval(() => {
    messageId = (messageId % 65_535) + 1;
    sentAt.set(messageId, clock());
    socket.write(
      mqttPacket.generate({
        cmd: 'publish',
        topic,
        qos: 1,
        dup: false,
        retain: false,
        messageId,
        payload: 'probe',
      }),
    );
  }, job.intervalMs);
  process.on('message', (query: ProbeQuery) => {
    const latencies: number[] = [];
    for (let i = firstSentFrom(answered, query.from); i < answered.length; i++) {
      const sample = answered[i] as { sent: number; latency: number };
      if (sample.sent > query.to) break;
      latencies.push(sample.latency);
    }
    const unanswered = [...sentAt.values()].filter((t) => t >= query.from && t <= query.to);
    send({ event: 'samples', latencies, unanswered });
  });
  send({ event: 'ready', connected: 1, refused: [] });
}

/** The index of the first sample sent at or after `from` (binary search: they are in the order sent). */
function firstSentFrom(samples: readonly { sent: number }[], from: number): number {
  let low = 0;
  let high = samples.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((samples[middle]?.sent ?? Number.POSITIVE_INFINITY) < from) low = middle + 1;
    else high = middle;
  }
  return low;
}
