import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the runs vary; everything else is set as the collector's own defaults are. `metricTag` is how
 * a point gets its `metric` tag. `unpivot` makes a point of each field, but as copies without
 * Telegraf's delivery tracking, and marks the message delivered there: it is acknowledged before it
 * is written (1.37.2 left none of 500 messages in the session when every write failed), so
 * `max_undelivered_messages` no longer holds back the input. `constant` names the field `value` and
 * sets the tag on the input, which keeps the tracking (all 500 left), for messages that carry one
 * measurement, as the benchmark's v1 do.
 */
export type TelegrafSettings = {
  metricTag: 'unpivot' | 'constant';
  metricBatchSize: number;
  maxUndelivered: number;
  concurrentWrites: number;
};

/** Where Telegraf reads from and writes to. Its secrets come from the environment, not the file. */
export type TelegrafTarget = {
  mqttUrl: string;
  username: string;
  shareGroup: string;
  clientId: string;
  influxUrl: string;
  org: string;
  bucket: string;
};

const toml = (value: string) => JSON.stringify(value);

/**
 * Telegraf set up as the collector is for v1 telemetry, so the two compare like with like: 5,000-point
 * batches or a flush every 200 ms, QoS 1 from a persistent session in a share group with each message
 * acknowledged once Telegraf counts it delivered (see `metricTag`), the device from the topic, one
 * `iot_telemetry` point per measurement tagged `metric` and `unit`, gzip to InfluxDB.
 */
export function telegrafConfig(target: TelegrafTarget, settings: TelegrafSettings): string {
  const mqtt = new URL(target.mqttUrl);
  const unpivot = settings.metricTag === 'unpivot';
  return `[agent]
  metric_batch_size = ${settings.metricBatchSize}
  flush_interval = "200ms"
  omit_hostname = true
  # The output's buffer must hold every undelivered message: past it Telegraf drops the oldest
  # metrics, and a message whose metric it dropped is never acknowledged (10000 is its default).
  metric_buffer_limit = ${Math.max(10_000, settings.maxUndelivered)}
  # For the output's "Wrote batch of N metrics" lines, which the benchmark counts.
  debug = true

[[inputs.mqtt_consumer]]
  servers = [${toml(`tcp://${mqtt.host}`)}]
  username = ${toml(target.username)}
  password = "\${MQTT_PASSWORD}"
  client_id = ${toml(target.clientId)}
  persistent_session = true
  qos = 1
  max_undelivered_messages = ${settings.maxUndelivered}
  topics = [${toml(`$share/${target.shareGroup}/iot/+/telemetry`)}]
  # No "topic" tag: the collector's points have none.
  topic_tag = ""
  data_format = "json_v2"

  # Matched against each message's own topic, which carries no $share/<group>/ prefix.
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "iot/+/telemetry"
    tags = "_/device_id/_"

  [[inputs.mqtt_consumer.json_v2]]
    measurement_name = "iot_telemetry"
    timestamp_path = "timestamp"
    # Go's parser takes the milliseconds although the layout names none.
    timestamp_format = "2006-01-02T15:04:05Z07:00"
    timestamp_timezone = "UTC"

    [[inputs.mqtt_consumer.json_v2.tag]]
      path = "unit"
      optional = true

    [[inputs.mqtt_consumer.json_v2.field]]
      path = "temperature"
${unpivot ? '' : '      rename = "value"\n'}      type = "float"
${
  unpivot
    ? `
[[processors.unpivot]]
  tag_key = "metric"
  value_key = "value"
`
    : `
  # The metric tag without processors.unpivot, which would acknowledge messages before writing them.
  [inputs.mqtt_consumer.tags]
    metric = "temperature"
`
}
[[outputs.influxdb_v2]]
  urls = [${toml(target.influxUrl)}]
  token = "\${INFLUX_TOKEN}"
  organization = ${toml(target.org)}
  bucket = ${toml(target.bucket)}
  content_encoding = "gzip"
  # Splits each batch into this many requests sent at once (Telegraf has no agent-wide setting).
  concurrent_writes = ${settings.concurrentWrites}
`;
}

export type TelegrafProcess = {
  pid: number | undefined;
  /** When it was spawned (performance.now()). */
  startedAt: number;
  /** Points the output has written so far, as its log says. */
  written: () => number;
  /** Throws with the log's tail if Telegraf has exited. */
  assertRunning: () => void;
  /** SIGTERM (Telegraf writes what it holds), then removes its configuration. */
  stop: () => Promise<void>;
};

/** Runs Telegraf with `config`; the secrets it names are its whole environment. */
export async function startTelegraf(
  bin: string,
  config: string,
  secrets: { MQTT_PASSWORD: string; INFLUX_TOKEN: string },
): Promise<TelegrafProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'iot-meter-telegraf-'));
  const file = join(dir, 'telegraf.conf');
  await writeFile(file, config, { mode: 0o600 });
  const startedAt = performance.now();
  // Nothing else from this environment: Telegraf substitutes $NAME in its configuration's strings
  // (only in strings with --strict-env-handling, 1.38's default), and a variable called "share"
  // would rewrite the topic's $share prefix.
  const child: ChildProcess = spawn(bin, ['--config', file, '--strict-env-handling'], {
    env: secrets,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let written = 0;
  let tail = '';
  let partial = '';
  const read = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8000);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const batch = /Wrote batch of (\d+) metrics/.exec(line);
      if (batch) written += Number(batch[1]);
    }
  };
  child.stdout?.on('data', read);
  child.stderr?.on('data', read);
  return {
    pid: child.pid,
    startedAt,
    written: () => written,
    assertRunning() {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`telegraf exited (${child.exitCode ?? child.signalCode}):\n${tail}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
