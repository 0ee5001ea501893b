/** Roles, weakest first: each one may do everything the ones before it may. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: an API key's id and name (null id for the bootstrap admin key) and its role. */
export type Principal = { keyId: number | null; name: string; role: Role };

export function hasRole(principal: Principal, needed: Role): boolean {
  return ROLES.indexOf(principal.role) >= ROLES.indexOf(needed);
}
