import type { QueryApi } from '@influxdata/influxdb-client';
import type { Database } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { ApiError } from '../http/api-errors.js';
import type { RuleValues } from './alert-rules.schema.js';
import { judgeSamples, type RuleState } from './judge.js';
import type { Condition } from './rule-condition.js';
import { querySampleSpans, streamSamples } from './rule-data.js';
import { findScopeDevices } from './rule-states.repository.js';

/** One alert the rule would have raised: when its condition began, fired, and cleared (null: still firing). */
export type Episode = {
  device_id: string;
  started_at: number;
  fired_at: number;
  value: number | null;
  resolved_at: number | null;
  resolved_value: number | null;
};

export type Preview = { devices: number; samples: number | null; episodes: Episode[] };

// A preview holds one device's judgement at a time, but the samples still cost CPU: past this many
// it is refused, so that one request cannot keep the API busy for minutes.
export const PREVIEW_MAX_SAMPLES = 2_000_000;

/**
 * What `rule` would have done over a past window, judged exactly as the evaluator judges, from no
 * state at the window's start: the alerts it would have opened per device, and when they cleared.
 * One InfluxDB query; nothing is stored or notified.
 */
export async function previewRule(
  deps: { db: Kysely<Database>; query: QueryApi; bucket: string },
  rule: RuleValues,
  window: { startMs: number; stopMs: number },
): Promise<Preview> {
  const scoped = new Set((await findScopeDevices(deps.db, rule.scope)).map((d) => d.device_id));
  const devices = 'device_ids' in rule.scope ? [...scoped] : undefined;
  if (rule.kind === 'threshold') {
    return previewThreshold(deps, rule, window, scoped, devices);
  }
  if (rule.kind === 'no_data') {
    const spans = await querySampleSpans(deps.query, deps.bucket, {
      metric: rule.metric,
      ...window,
      gapMs: rule.for_seconds * 1000,
      devices,
    });
    const episodes: Episode[] = [];
    const forMs = rule.for_seconds * 1000;
    const silence = (deviceId: string, from: number, to: number | null) => {
      if ((to ?? window.stopMs) - from < forMs) return;
      episodes.push({
        device_id: deviceId,
        started_at: from,
        fired_at: from + forMs,
        value: null,
        resolved_at: to,
        resolved_value: null,
      });
    };
    for (const deviceId of scoped) {
      const span = spans.get(deviceId);
      // Silent since before the window: counted from its start.
      if (!span) {
        silence(deviceId, window.startMs, null);
        continue;
      }
      silence(deviceId, window.startMs, span.first);
      for (const gap of span.gaps) silence(deviceId, gap.from, gap.to);
      silence(deviceId, span.last, null);
    }
    return { devices: scoped.size, samples: null, episodes: byFiringTime(episodes) };
  }
  throw new ApiError(
    'preview_unsupported',
    `${rule.kind} rules cannot be previewed: ${
      rule.kind === 'offline' ? 'presence history is not kept' : 'sequence tracking keeps no history'
    }`,
    'rule.kind',
  );
}

async function previewThreshold(
  deps: { query: QueryApi; bucket: string },
  rule: RuleValues,
  window: { startMs: number; stopMs: number },
  scoped: ReadonlySet<string>,
  devices: string[] | undefined,
): Promise<Preview> {
  const condition = rule.condition as Condition;
  const forMs = rule.for_seconds * 1000;
  const episodes: Episode[] = [];
  let samples = 0;
  let device = '';
  let state: RuleState | undefined;
  let open: Episode | undefined;
  const stream = streamSamples(deps.query, deps.bucket, {
    metric: rule.metric ?? '',
    ...window,
    devices,
  });
  for await (const row of stream) {
    if (!scoped.has(row.device)) continue;
    samples += 1;
    if (samples > PREVIEW_MAX_SAMPLES) {
      await stream.return(undefined);
      throw new ApiError(
        'preview_too_large',
        `more than ${PREVIEW_MAX_SAMPLES} samples in the window: narrow the window or the scope`,
      );
    }
    if (row.device !== device) {
      device = row.device;
      state = undefined;
      open = undefined;
    }
    const judged = judgeSamples(condition, forMs, state, [row.sample]);
    state = judged.state;
    for (const t of judged.transitions) {
      if (t.kind === 'fired') {
        open = {
          device_id: device,
          started_at: t.startedAt,
          fired_at: t.at,
          value: t.value,
          resolved_at: null,
          resolved_value: null,
        };
        episodes.push(open);
      } else if (open) {
        open.resolved_at = t.at;
        open.resolved_value = t.value;
        open = undefined;
      }
    }
  }
  return { devices: scoped.size, samples, episodes: byFiringTime(episodes) };
}

const byFiringTime = (episodes: Episode[]) =>
  episodes.sort((a, b) => a.fired_at - b.fired_at || a.device_id.localeCompare(b.device_id));
