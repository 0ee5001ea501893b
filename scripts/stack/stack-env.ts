import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const stack = fileURLToPath(new URL('./stack.sh', import.meta.url));

/** The stack's URLs and credentials, as `npm run -s stack:env` prints them. */
export function readStackEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return parseExports(execFileSync('bash', [stack, 'env'], { encoding: 'utf8', env }));
}

/** Parses `export NAME=value` lines. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}
