import type { Random } from '@iot-meter/common';

// Believable devices: the original environment sensor (architecture §8) and DC (750 V) and AC (25 kV,
// 50 Hz) traction power meters. Each value is a daily cycle (UTC) plus slow drift plus noise, and
// now and then a fault that lasts a while. Times are in milliseconds.

export type Measurement = { type: string; val: number; unit?: string };
export type Sample = { ts: number; measurements: Measurement[] };
export type Sampler = (timeMs: number) => Sample;

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** 0 at night to 1 in the rush hours (08:00 and 17:30 UTC): how busy the line is. */
function traffic(timeMs: number): number {
  const hour = (timeMs % DAY_MS) / HOUR_MS;
  const peak = (at: number, width: number) => Math.exp(-(((hour - at) / width) ** 2));
  const day = hour >= 5 && hour <= 23 ? 0.35 : 0.08;
  return Math.min(1, day + 0.65 * Math.max(peak(8, 1.5), peak(17.5, 1.8)));
}

/** The daily temperature swing: +1 at 15:00 UTC, −1 at 03:00. */
function warmth(timeMs: number): number {
  return Math.cos((2 * Math.PI * ((timeMs % DAY_MS) - 15 * HOUR_MS)) / DAY_MS);
}

/** Slow drift that wanders around 0 (Ornstein–Uhlenbeck): about ±sigma, changing over tauMs. */
function drift(random: Random, sigma: number, tauMs: number) {
  let value = 0;
  return (dtMs: number) => {
    const keep = Math.exp(-dtMs / tauMs);
    value = value * keep + sigma * Math.sqrt(1 - keep * keep) * random.gaussian();
    return value;
  };
}

type Fault<K extends string> = { kind: K; untilMs: number } | undefined;

/** Starts a fault now and then: on average `perDay` times a day, each lasting minMs–maxMs. */
function faults<K extends string>(random: Random, perDay: number, kinds: readonly [K, number, number][]) {
  let current: Fault<K>;
  return (timeMs: number, dtMs: number): K | undefined => {
    if (current && timeMs >= current.untilMs) current = undefined;
    if (!current && perDay > 0 && random.next() < (perDay * dtMs) / DAY_MS) {
      const picked = kinds[Math.floor(random.next() * kinds.length)];
      if (picked) {
        const [kind, minMs, maxMs] = picked;
        current = { kind, untilMs: timeMs + minMs + random.next() * (maxMs - minMs) };
      }
    }
    return current?.kind;
  };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

/** Tracks the time since the previous sample (the first one counts as one second). */
function clock() {
  let last: number | undefined;
  return (timeMs: number) => {
    const dt = last === undefined ? 1000 : Math.max(1, timeMs - last);
    last = timeMs;
    return dt;
  };
}

function environmentSensor(random: Random, faultsPerDay: number): Sampler {
  const step = clock();
  const temperatureDrift = drift(random, 0.8, 6 * HOUR_MS);
  const humidityDrift = drift(random, 3, 4 * HOUR_MS);
  const fault = faults(random, faultsPerDay, [
    ['stuck', 5 * 60_000, 30 * 60_000],
    ['spike', 1000, 3000],
  ]);
  let last: Measurement[] = [];
  return (ts) => {
    const dt = step(ts);
    const t = 21 + 3.5 * warmth(ts) + temperatureDrift(dt) + 0.05 * random.gaussian();
    const h = 50 - 8 * warmth(ts) + humidityDrift(dt) + 0.3 * random.gaussian();
    const kind = fault(ts, dt);
    if (kind === 'stuck' && last.length > 0) return { ts, measurements: last };
    last = [
      { type: 'temperature', val: round(kind === 'spike' ? t + 15 : t, 2), unit: 'Cel' },
      { type: 'humidity', val: round(clamp(h, 5, 99), 1), unit: '%' },
    ];
    return { ts, measurements: last };
  };
}

/** A train pulling away now and then, more often when the line is busy: extra current that fades. */
function trains(random: Random) {
  let surge = 0;
  return (ts: number, dt: number) => {
    surge *= Math.exp(-dt / 12_000);
    if (random.next() < (traffic(ts) * dt) / 45_000) surge += 500 + 400 * random.next();
    return surge;
  };
}

function dcTractionMeter(random: Random, faultsPerDay: number): Sampler {
  const step = clock();
  const supplyDrift = drift(random, 4, 2 * HOUR_MS);
  const surge = trains(random);
  const fault = faults(random, faultsPerDay, [
    ['breaker_trip', 60_000, 5 * 60_000],
    ['voltage_sag', 5000, 30_000],
  ]);
  return (ts) => {
    const dt = step(ts);
    let current = 180 + 220 * traffic(ts) + surge(ts, dt) + 8 * random.gaussian();
    let voltage = 790 - 0.09 * current + supplyDrift(dt) + 1.5 * random.gaussian();
    const kind = fault(ts, dt);
    if (kind === 'breaker_trip') {
      current = Math.abs(0.5 * random.gaussian());
      voltage = 805 + supplyDrift(0) + random.gaussian();
    } else if (kind === 'voltage_sag') {
      voltage -= 120;
    }
    return {
      ts,
      measurements: [
        { type: 'voltage_dc', val: round(voltage, 1), unit: 'V' },
        { type: 'current_dc', val: round(Math.max(0, current), 1), unit: 'A' },
      ],
    };
  };
}

function acTractionMeter(random: Random, faultsPerDay: number): Sampler {
  const step = clock();
  const supplyDrift = drift(random, 150, 3 * HOUR_MS);
  const grid = drift(random, 0.02, 60_000);
  const surge = trains(random);
  const fault = faults(random, faultsPerDay, [
    ['frequency_excursion', 10_000, 60_000],
    ['pf_drop', 60_000, 10 * 60_000],
  ]);
  return (ts) => {
    const dt = step(ts);
    const load = traffic(ts);
    const current = 90 + 110 * load + surge(ts, dt) / 8 + 3 * random.gaussian();
    const voltage = 25_500 - 4 * current + supplyDrift(dt) + 40 * random.gaussian();
    let frequency = 50 + grid(dt) + 0.003 * random.gaussian();
    let pf = 0.9 + 0.08 * load + 0.005 * random.gaussian();
    const kind = fault(ts, dt);
    if (kind === 'frequency_excursion') frequency -= 0.3;
    if (kind === 'pf_drop') pf = 0.75 + 0.01 * random.gaussian();
    return {
      ts,
      measurements: [
        { type: 'voltage_ac', val: Math.round(voltage), unit: 'V' },
        { type: 'current_ac', val: round(Math.max(0, current), 1), unit: 'A' },
        { type: 'frequency', val: round(frequency, 3), unit: 'Hz' },
        { type: 'pf', val: round(clamp(pf, 0, 1), 3) },
      ],
    };
  };
}

/** The models by the name `--types` uses; `deviceType` is what the registry shows. */
export const DEVICE_MODELS = {
  env: { deviceType: 'environment_sensor', create: environmentSensor },
  dc: { deviceType: 'power_meter_dc', create: dcTractionMeter },
  ac: { deviceType: 'power_meter_ac', create: acTractionMeter },
} as const;

export type ModelName = keyof typeof DEVICE_MODELS;
export const MODEL_NAMES = Object.keys(DEVICE_MODELS) as ModelName[];
