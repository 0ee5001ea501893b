import { ConfigError } from '@iot-meter/common';
import { describe, expect, it } from 'vitest';
import { loadSimulatorConfig } from './config.js';

function problemsOf(argv: string[], env: Record<string, string>): readonly string[] {
  try {
    loadSimulatorConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSimulatorConfig', () => {
  it('takes the broker from MQTT_URL unless --mqtt-url says otherwise, with the defaults', () => {
    const { env, options } = loadSimulatorConfig(['--devices', '3'], {
      MQTT_URL: 'mqtt://broker:1883',
      MQTT_USERNAME: '',
    });
    expect(env).toEqual({ LOG_LEVEL: 'info', MQTT_URL: 'mqtt://broker:1883' });
    expect(options.mqttUrl).toBe('mqtt://broker:1883');
    expect(options.fleet.devices).toBe(3);
    expect(options.fleet.types).toEqual({ env: 1, dc: 1, ac: 1 });
    const flagged = loadSimulatorConfig(['--mqtt-url', 'mqtt://other:1884'], {
      MQTT_URL: 'mqtt://broker:1883',
    });
    expect(flagged.options.mqttUrl).toBe('mqtt://other:1884');
    expect(loadSimulatorConfig([], {}).options.mqttUrl).toBe('mqtt://127.0.0.1:1883');
  });

  it('reports two bad variables in one error', () => {
    expect(problemsOf([], { PORT: '70000', MQTT_URL: 'http://broker' })).toEqual([
      'PORT: Too big: expected number to be <=65535 (got "70000")',
      'MQTT_URL: Invalid URL (got "http://broker")',
    ]);
  });

  it('reports every bad variable and flag together, before anything connects', () => {
    expect(
      problemsOf(['--devices', '0', '--types', 'env,toaster', '--register'], {
        LOG_LEVEL: 'loud',
        API_KEY: 'k',
      }),
    ).toEqual([
      'LOG_LEVEL: Invalid option: expected one of "trace"|"debug"|"info"|"warn"|"error"|"fatal"|"silent" (got "loud")',
      '--devices: Too small: expected number to be >0',
      "--types: unknown model 'toaster' (env, dc, ac)",
    ]);
    expect(problemsOf(['--register'], { API_KEY: 'k' })).toEqual([
      '--register needs API_URL and API_KEY (an operator key)',
    ]);
    expect(problemsOf(['--devicez', '3'], {})).toEqual(["Unknown option '--devicez'"]);
  });
});
