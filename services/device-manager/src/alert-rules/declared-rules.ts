import { z } from '@hono/zod-openapi';
import { databaseEnv } from '@iot-meter/common';
import { parse as parseYaml } from 'yaml';
import { type RuleValues, ruleBody, ruleValues } from './alert-rules.schema.js';

// Rules as code: the chart's values (rendered into a file) and the file `npm start` reads declare
// rules in the API's own body format, under `rules:`.
const declaredFile = z
  .object({ rules: z.array(ruleBody).max(1000).nullish() })
  .strict()
  .superRefine(({ rules }, ctx) => {
    const seen = new Set<string>();
    for (const [index, rule] of (rules ?? []).entries()) {
      if (seen.has(rule.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', index, 'name'],
          message: `${rule.name} is declared twice`,
        });
      }
      seen.add(rule.name);
    }
  });

/** The environment of `apply-alert-rules` (the chart's Job). */
export const declaredRulesConfig = databaseEnv.extend({
  ALERT_RULES_FILE: z.string().min(1),
  // Shown as the rules' `managed_by`; each owner's set is its own.
  ALERT_RULES_OWNER: z.string().min(1).max(100),
  // Alerts an update or removal resolves are notified, as when the API changes a rule.
  ALERTMANAGER_URL: z.url().optional(),
});

/** The declared file's text, or an error naming each problem's place (`rules[2].condition.clear`). */
export function parseDeclaredRules(text: string): RuleValues[] {
  let document: unknown;
  try {
    // An empty file declares no rules.
    document = parseYaml(text) ?? {};
  } catch (err) {
    throw new Error(`not YAML: ${(err as Error).message}`);
  }
  const parsed = declaredFile.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${place(issue.path)}: ${issue.message}`);
    throw new Error(problems.join('; '));
  }
  return (parsed.data.rules ?? []).map(ruleValues);
}

function place(path: readonly PropertyKey[]): string {
  return (
    path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
      .join('') || '(the file)'
  );
}
