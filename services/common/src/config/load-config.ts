import type { z } from 'zod';
import { AppError } from '../errors/app-error.js';

export type Env = Record<string, string | undefined>;

/** Thrown by `loadConfig`; `problems` names every bad variable, so one start-up shows them all. */
export class ConfigError extends AppError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('config_invalid', `invalid configuration:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

/** Parses an environment with a zod object schema; a pure function of `env`. */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  // Empty strings count as unset, as they do in most shells and Kubernetes manifests.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.length > 0 ? issue.path.join('.') : '(environment)';
    const value = typeof issue.path[0] === 'string' ? present[issue.path[0]] : undefined;
    const shown = value === undefined ? 'unset' : `got ${JSON.stringify(redact(issue.path[0], value))}`;
    return `${name}: ${issue.message} (${shown})`;
  });
  throw new ConfigError(problems);
}

function redact(name: PropertyKey | undefined, value: unknown): unknown {
  return typeof name === 'string' && /PASSWORD|SECRET|TOKEN|KEY/.test(name) ? '***' : value;
}
