import { influxEnv, logLevelEnv } from '@iot-meter/common';
import { z } from 'zod';

const databaseUrl = z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// URL');

/**
 * What `bin/provision-store-accounts.ts` reads. Each store's part runs when its first variable is
 * set: PostgreSQL's with a superuser's URL (the logins are the services' URLs' users), InfluxDB's
 * with a place to keep the tokens (a Kubernetes Secret in the chart, a folder in the local stack).
 */
export const storeAccountsConfig = z
  .object({
    PROVISION_DATABASE_URL: databaseUrl.optional(),
    COLLECTOR_DATABASE_URL: databaseUrl.optional(),
    DEVICE_MANAGER_DATABASE_URL: databaseUrl.optional(),
    INFLUX_TOKENS_SECRET: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Secret name')
      .optional(),
    INFLUX_TOKENS_DIR: z.string().min(1).optional(),
    ...influxEnv.partial().shape,
    ...logLevelEnv.shape,
  })
  .superRefine((env, ctx) => {
    const require = (names: (keyof typeof env)[], because: string) => {
      for (const name of names) {
        if (env[name] === undefined)
          ctx.addIssue({ code: 'custom', path: [name], message: `required ${because}` });
      }
    };
    if (env.PROVISION_DATABASE_URL) {
      require(['COLLECTOR_DATABASE_URL', 'DEVICE_MANAGER_DATABASE_URL'], 'with PROVISION_DATABASE_URL');
    }
    if (env.INFLUX_TOKENS_SECRET || env.INFLUX_TOKENS_DIR) {
      require(['INFLUX_URL', 'INFLUX_TOKEN'], 'to make the InfluxDB tokens');
    }
  });

export type StoreAccountsConfig = z.output<typeof storeAccountsConfig>;
