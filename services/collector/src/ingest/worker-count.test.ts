import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeWorkers, usableCores } from './worker-count.js';

const dir = await mkdtemp(join(tmpdir(), 'cpu-max-'));
afterAll(() => rm(dir, { recursive: true }));

async function cpuMax(text: string): Promise<string> {
  const file = join(dir, `cpu.max-${Math.random()}`);
  await writeFile(file, text);
  return file;
}

describe('usableCores', () => {
  it("takes the container's CPU limit, never more than the machine has, at least one", async () => {
    expect(usableCores(await cpuMax('200000 100000\n'))).toBe(Math.min(2, availableParallelism()));
    expect(usableCores(await cpuMax('150000 100000\n'))).toBe(1);
    expect(usableCores(await cpuMax('50000 100000\n'))).toBe(1);
    expect(usableCores(await cpuMax('6400000 100000\n'))).toBe(availableParallelism());
  });

  it('falls back to the machine without a limit or without cgroup v2', async () => {
    expect(usableCores(await cpuMax('max 100000\n'))).toBe(availableParallelism());
    expect(usableCores(join(dir, 'absent'))).toBe(availableParallelism());
  });
});

describe('decodeWorkers', () => {
  it('leaves one core to the event loop on auto, and takes a number as given', () => {
    expect(decodeWorkers('auto', 4)).toBe(3);
    expect(decodeWorkers('auto', 1)).toBe(0);
    expect(decodeWorkers(2, 1)).toBe(2);
    expect(decodeWorkers(0, 8)).toBe(0);
  });
});
