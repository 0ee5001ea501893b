import { describe, expect, it } from 'vitest';
import { createApp } from './app.js';

describe('device-manager app', () => {
  it('keeps the seed contract for /health', async () => {
    const response = await createApp().request('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'healthy', service: 'device-manager' });
  });

  it('exports its metrics labelled with the service name', async () => {
    const response = await createApp().request('/metrics');
    expect(await response.text()).toMatch(/^process_cpu_user_seconds_total\{service="device-manager"\} \d/m);
  });
});
