import type { QueryApi } from '@influxdata/influxdb-client';
import { type Database, type Leadership, type Logger, LostLeadership } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { findRules, type RuleRow } from './alert-rules.repository.js';
import { formatDuration, renderTemplate } from './alert-rules.schema.js';
import { type Judgement, judgeDuration, judgeSamples, type RuleState, type Transition } from './judge.js';
import { thresholdText } from './rule-condition.js';
import { queryLastSampleTimes, querySamples } from './rule-data.js';
import {
  countFiringBySeverity,
  countPendingNotifications,
  type DeviceChange,
  findDevicesSeenSince,
  findMissingMessages,
  findPresence,
  findRuleStates,
  findScopeDevices,
  type StoredState,
  storeChanges,
} from './rule-states.repository.js';

export type RuleEvaluatorOptions = {
  db: Kysely<Database>;
  leadership: Leadership<Database>;
  influx: { query: QueryApi; bucket: string };
  intervalMs: number;
  /** How far back the first pass after taking the lead reads a threshold rule's samples. */
  lookbackMs: number;
  /** How far each pass reaches back before the previous one ended: samples arriving that late are judged. */
  lateWindowMs: number;
  /** The oldest backfilled sample judged, before now. */
  maxLatenessMs: number;
  logger: Logger;
  registry?: Registry;
  now?: () => number;
  /** Where each opened or resolved alert is to be notified (its outbox rows), e.g. `alertmanager`. */
  notificationTargets?: readonly string[];
};

/** What the leader remembers of a rule between passes: when it ended and each device's newest judged sample. */
type RuleMemory = { version: number; passEndMs: number; watermarks: Map<string, number> };

export type PassResult = { leading: boolean; rules: number; failed: number; opened: number; closed: number };

/**
 * Evaluates every enabled rule once per pass, on whichever replica holds the leadership: each rule is
 * one InfluxDB query over all its devices (threshold, no_data) or a presence read (offline); the
 * judgements that change a state are stored in one transaction per rule on the leader's own
 * connection, so a replica that lost the lead writes nothing.
 */
export function createRuleEvaluator(options: RuleEvaluatorOptions) {
  const { db, leadership, influx, logger } = options;
  const now = options.now ?? Date.now;
  const memory = new Map<number, RuleMemory>();
  const metrics = options.registry && createEvaluatorMetrics(options.registry, db);

  async function evaluateRule(rule: RuleRow, nowMs: number): Promise<{ opened: number; closed: number }> {
    const version = rule.updated_at.getTime();
    const remembered = memory.get(rule.id);
    const previous = remembered?.version === version ? remembered : undefined;
    const [states, scoped] = await Promise.all([
      findRuleStates(db, rule.id),
      findScopeDevices(db, rule.scope),
    ]);
    const created = new Map(scoped.map((d) => [d.device_id, d.created_at.getTime()]));
    const forMs = rule.for_seconds * 1000;
    const listed = 'device_ids' in rule.scope ? rule.scope.device_ids : undefined;
    const watermarks = new Map(previous?.watermarks);
    const judgements = new Map<string, Judgement>();

    if (rule.kind === 'threshold' && rule.condition && rule.metric) {
      const startMs = previous
        ? previous.passEndMs - options.lateWindowMs
        : nowMs - Math.max(options.lookbackMs, forMs + options.intervalMs);
      const watermark = (device: string) => {
        const known = [watermarks.get(device), states.get(device)?.evaluatedThrough].filter(
          (t) => t !== undefined,
        );
        return known.length > 0 ? Math.max(...known) : undefined;
      };
      // Devices seen since the last pass whose newest judged sample is older than this pass reaches:
      // they may be sending what they held during an outage, judged here at its own times.
      const late: string[] = [];
      let lateStartMs = startMs;
      if (previous) {
        const seen = await findDevicesSeenSince(db, previous.passEndMs - options.lateWindowMs);
        for (const device of seen.keys()) {
          const mark = watermark(device);
          if (!created.has(device) || mark === undefined || mark >= startMs) continue;
          late.push(device);
          lateStartMs = Math.min(lateStartMs, Math.max(mark, nowMs - options.maxLatenessMs));
        }
      }
      const samples = await querySamples(influx.query, influx.bucket, {
        metric: rule.metric,
        startMs,
        stopMs: nowMs + 1,
        ...(listed && { devices: listed }),
        late: { startMs: lateStartMs, devices: late },
      });
      for (const [device, list] of samples) {
        if (!created.has(device)) continue;
        const mark = watermark(device);
        const stored = states.get(device);
        const before: RuleState | undefined =
          stored || mark !== undefined
            ? {
                ...(stored ?? { state: 'resolved', since: mark ?? 0, value: null }),
                evaluatedThrough: mark ?? 0,
              }
            : undefined;
        const judged = judgeSamples(rule.condition, forMs, before, list);
        judgements.set(device, judged);
        if (judged.state) watermarks.set(device, judged.state.evaluatedThrough);
      }
    } else if (rule.kind === 'no_data') {
      const startMs = nowMs - forMs - options.lookbackMs;
      const last = await queryLastSampleTimes(influx.query, influx.bucket, {
        metric: rule.metric,
        startMs,
        stopMs: nowMs + 1,
        ...(listed && { devices: listed }),
      });
      for (const [device, createdAt] of created) {
        const lastMs = last.get(device);
        // Only a sample ends a silence: one already judged keeps its start once its last sample is
        // older than this pass reads (else it would resolve and fire again).
        const stored = states.get(device);
        const silentSince =
          lastMs ??
          (stored && stored.state !== 'resolved'
            ? stored.since
            : Math.max(startMs, createdAt, rule.created_at.getTime()));
        const holds = nowMs - silentSince >= forMs;
        judgements.set(
          device,
          judgeDuration(
            states.get(device),
            holds ? { holds: true, since: silentSince } : { holds: false, endedAt: lastMs ?? nowMs },
            forMs,
            nowMs,
          ),
        );
      }
    } else if (rule.kind === 'offline') {
      const presence = await findPresence(db, [...created.keys()]);
      for (const device of created.keys()) {
        const seen = presence.get(device);
        judgements.set(
          device,
          judgeDuration(
            states.get(device),
            seen?.status === 'offline'
              ? { holds: true, since: seen.changedAt }
              : { holds: false, endedAt: seen?.changedAt ?? nowMs },
            forMs,
            nowMs,
          ),
        );
      }
    } else if (rule.kind === 'sequence_gap') {
      // Messages missing since the first pass that saw them (the tracking keeps no times); the
      // alert's value is how many were missing when it fired.
      const missing = await findMissingMessages(db, [...created.keys()]);
      for (const device of created.keys()) {
        const count = missing.get(device) ?? 0;
        const stored = states.get(device);
        const since = stored && stored.state !== 'resolved' ? stored.since : nowMs;
        const judged = judgeDuration(
          stored,
          count > 0 ? { holds: true, since } : { holds: false, endedAt: nowMs },
          forMs,
          nowMs,
        );
        judgements.set(device, {
          state: judged.state,
          transitions: judged.transitions.map((t) => (t.kind === 'fired' ? { ...t, value: count } : t)),
        });
      }
    }

    // A device that left the rule's scope (its type or labels changed, it was deleted) no longer
    // breaks it: what was pending ends, what was firing resolves now.
    for (const [device, stored] of states) {
      if (created.has(device) || stored.state === 'resolved') continue;
      judgements.set(device, {
        state: { state: 'resolved', since: nowMs, value: null, evaluatedThrough: stored.evaluatedThrough },
        transitions: stored.state === 'firing' ? [{ kind: 'resolved', at: nowMs, value: null }] : [],
      });
    }

    const changes: DeviceChange[] = [];
    for (const [device, { state, transitions }] of judgements) {
      if (state && (transitions.length > 0 || moved(states.get(device), state))) {
        changes.push({
          deviceId: device,
          state,
          previous: states.get(device),
          transitions,
          message: messageOf(rule, device),
        });
      }
    }
    const stored =
      changes.length > 0
        ? await leadership.whileLeading((tx) =>
            storeChanges(tx, rule, changes, options.notificationTargets ?? []),
          )
        : { opened: 0, closed: 0 };
    memory.set(rule.id, { version, passEndMs: nowMs, watermarks });
    return stored;
  }

  return {
    /** One pass over every enabled rule, if this replica leads (taking the lead when it is free). */
    async pass(): Promise<PassResult> {
      const result: PassResult = { leading: false, rules: 0, failed: 0, opened: 0, closed: 0 };
      result.leading = await leadership.tryLead().catch((err: unknown) => {
        logger.warn({ err }, 'could not ask for the alert evaluator lead');
        return false;
      });
      metrics?.leader.set(result.leading ? 1 : 0);
      if (!result.leading) {
        memory.clear();
        return result;
      }
      const rules = await findRules(db, { enabled: true });
      for (const rule of rules) {
        const started = performance.now();
        try {
          const { opened, closed } = await evaluateRule(rule, now());
          result.opened += opened;
          result.closed += closed;
          result.rules += 1;
          metrics?.evaluations.inc({ outcome: 'ok' });
          metrics?.alertsOpened.inc(opened);
          metrics?.alertsClosed.inc(closed);
        } catch (err) {
          metrics?.evaluations.inc({ outcome: 'failed' });
          if (err instanceof LostLeadership) {
            logger.warn({ rule: rule.name }, 'lost the alert evaluator lead mid-pass');
            memory.clear();
            result.leading = false;
            metrics?.leader.set(0);
            return result;
          }
          result.failed += 1;
          logger.warn({ err, rule: rule.name }, 'alert rule evaluation failed');
        } finally {
          metrics?.seconds.observe({ rule: rule.name }, (performance.now() - started) / 1000);
        }
      }
      // A pass counts as done only when every rule was evaluated: failing ones leave the stalled alert to fire.
      if (result.failed === 0) metrics?.lastPass.set(now() / 1000);
      return result;
    },
  };
}

/** Whether a judgement moved the stored state (not only its watermark): only those are written. */
function moved(stored: StoredState | undefined, state: RuleState): boolean {
  if (!stored) return state.state !== 'resolved';
  return stored.state !== state.state || stored.since !== state.since;
}

function messageOf(rule: RuleRow, device: string) {
  return (transition: Transition) =>
    renderTemplate(rule.message_template, {
      device_id: device,
      rule: rule.name,
      metric: rule.metric ?? '',
      value: transition.value === null ? '' : String(transition.value),
      threshold: rule.condition ? thresholdText(rule.condition) : '',
      severity: rule.severity,
      for: formatDuration(rule.for_seconds),
    });
}

function createEvaluatorMetrics(registry: Registry, db: Kysely<Database>) {
  const registers = [registry];
  // Counted in PostgreSQL at each scrape, as every replica sees them (dashboards take the max).
  new Gauge({
    name: 'iot_alerts_firing',
    help: 'Open alerts raised by rules, by severity',
    labelNames: ['severity'],
    registers,
    async collect() {
      this.reset();
      for (const { severity, count } of await countFiringBySeverity(db)) this.set({ severity }, count);
    },
  });
  new Gauge({
    name: 'iot_alert_notifications_pending',
    help: 'Notifications waiting in the outbox, by target',
    labelNames: ['target'],
    registers,
    async collect() {
      this.reset();
      for (const { target, count } of await countPendingNotifications(db)) this.set({ target }, count);
    },
  });
  return {
    leader: new Gauge({
      name: 'iot_alert_evaluator_leader',
      help: '1 while this replica evaluates the alert rules',
      registers,
    }),
    evaluations: new Counter({
      name: 'iot_alert_rule_evaluations_total',
      help: 'Alert rule evaluations, by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    seconds: new Histogram({
      name: 'iot_alert_rule_evaluation_seconds',
      help: 'Time to evaluate one alert rule over all its devices',
      labelNames: ['rule'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    alertsOpened: new Counter({
      name: 'iot_alert_rule_alerts_opened_total',
      help: 'Alerts opened by rules',
      registers,
    }),
    alertsClosed: new Counter({
      name: 'iot_alert_rule_alerts_resolved_total',
      help: 'Rule alerts resolved by their rule',
      registers,
    }),
    lastPass: new Gauge({
      name: 'iot_alert_evaluator_last_pass_timestamp_seconds',
      help: 'When the leader last evaluated every rule without a failure',
      registers,
    }),
  };
}
