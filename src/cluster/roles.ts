/** `tickerpulse start --role poll,write,serve`: which stages this process runs (docs/CLUSTER.md). */
import { TickerpulseError } from '../lib/errors.js';

export const ROLES = ['poll', 'write', 'serve'] as const;
export type Role = (typeof ROLES)[number];

/** "poll,serve" → the set; unknown, empty or repeated names are CONFIG_INVALID. */
export function parseRoles(text: string | undefined): Set<Role> {
  if (text === undefined) return new Set(ROLES);
  const names = text.split(',').map((s) => s.trim());
  const out = new Set<Role>();
  for (const n of names) {
    if (!(ROLES as readonly string[]).includes(n)) throw new TickerpulseError('CONFIG_INVALID', `--role: "${n}" is not a role; give any of ${ROLES.join(', ')}, comma-separated`);
    if (out.has(n as Role)) throw new TickerpulseError('CONFIG_INVALID', `--role: "${n}" given twice`);
    out.add(n as Role);
  }
  return out;
}

export const allRoles = (roles: Set<Role>): boolean => ROLES.every((r) => roles.has(r));
