import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { readStackEnv } from './stack-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The local stack's URLs and credentials, as printed by `npm run -s stack:env`. */
    stackEnv: Record<string, string>;
  }
}

const stack = fileURLToPath(new URL('./stack.sh', import.meta.url));

/**
 * Builds the services (tests run the compiled collector as a process), starts the stack unless it
 * already runs and builds the test tools (helm, the control plane, schemathesis) unless cached;
 * stops the stack afterwards only if it started it here.
 */
export default function setup(project: TestProject): () => void {
  execFileSync('npm', ['run', '-s', 'build'], { stdio: 'inherit' });
  const wasUp = spawnSync('bash', [stack, 'status'], { stdio: 'ignore' }).status === 0;
  execFileSync('bash', [stack, 'up'], { stdio: 'inherit' });
  execFileSync('bash', [stack, 'tools'], { stdio: 'inherit' });
  project.provide('stackEnv', readStackEnv());
  return () => {
    if (!wasUp && process.env.IOT_STACK_KEEP !== '1')
      execFileSync('bash', [stack, 'down'], { stdio: 'inherit' });
  };
}
