import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const helm = inject('stackEnv').HELM_BIN ?? 'helm';
const chart = fileURLToPath(new URL('../iot-meter', import.meta.url));

function run(...args: string[]): string {
  return execFileSync(helm, args, { encoding: 'utf8' });
}

describe('helm', () => {
  it('is the pinned version built from the Go module proxy', () => {
    expect(run('version', '--template', '{{ .Version }}')).toBe('v4.3.1');
  });

  it('lints the umbrella chart strictly', () => {
    expect(run('lint', '--strict', chart)).toContain('1 chart(s) linted, 0 chart(s) failed');
  });
});
