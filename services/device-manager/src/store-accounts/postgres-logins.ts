import { type Kysely, sql } from 'kysely';

/** A service's PostgreSQL login and the group role whose rights the migrations grant. */
export type ServiceLogin = { login: string; password: string; group: string };

/**
 * Makes each group role (NOLOGIN) and login (a member of its group) if missing, and sets the
 * login's password every time, so a rotated Secret takes effect on the next run. Needs a
 * superuser (or CREATEROLE); the migrations' owner needs neither.
 */
export async function ensureServiceLogins(
  db: Kysely<unknown>,
  logins: readonly ServiceLogin[],
): Promise<void> {
  for (const { login, password, group } of logins) {
    // Roles are names, not values: format() quotes them on the server (%I, %L), and DO runs the result.
    const { rows } = await sql<{ statement: string }>`
      select format($f$do $do$ begin
        if not exists (select 1 from pg_roles where rolname = %1$L) then create role %1$I nologin; end if;
        if not exists (select 1 from pg_roles where rolname = %2$L) then create role %2$I login; end if;
        grant %1$I to %2$I;
        alter role %2$I login password %3$L;
      end $do$$f$, ${group}::text, ${login}::text, ${password}::text) as statement`.execute(db);
    await sql.raw(rows[0]?.statement ?? '').execute(db);
  }
}

/** The login of a DATABASE_URL (its user and password), to be a member of `group`. */
export function loginOf(databaseUrl: string, group: string): ServiceLogin {
  const url = new URL(databaseUrl);
  return { login: decodeURIComponent(url.username), password: decodeURIComponent(url.password), group };
}
