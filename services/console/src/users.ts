import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { OnDijonError } from '@ondijon/contracts';
import { verifyPassword } from '@ondijon/service-kit';

/** Roles of the console (issue 15, item 5). */
export const Role = z.enum(['operator', 'supervisor', 'governance']);
/** A role. */
export type Role = z.infer<typeof Role>;

const UserEntry = z
  .strictObject({
    login: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,47}$/),
    role: Role,
    /** The operator an operator login belongs to (its equipment, alerts and rejections). */
    operator: z.string().optional(),
    passwordHash: z.string().startsWith('scrypt$'),
  })
  .refine((u) => u.role !== 'operator' || u.operator !== undefined, {
    message: 'an operator login names its operator',
  });

const UsersFile = z.strictObject({ users: z.array(UserEntry).min(1) });

/** A signed-in user (what the session carries). */
export interface SessionUser {
  login: string;
  role: Role;
  operator?: string;
  /** Signed in through the single sign-on (services/console/src/oidc.ts); absent for a local login. */
  via?: 'oidc';
}

/** The users of the console, from the users file. */
export class Users {
  private readonly byLogin: Map<string, z.infer<typeof UserEntry>>;
  // Compared against when the login is unknown, so a wrong login costs the same time as a wrong password.
  private readonly decoy: string;

  constructor(entries: z.infer<typeof UserEntry>[]) {
    this.byLogin = new Map(entries.map((u) => [u.login, u]));
    this.decoy = entries[0]!.passwordHash;
  }

  /** Reads and checks the users file; throws ONDIJON_CONFIG_INVALID naming the problem. */
  static load(file: string): Users {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new OnDijonError(
        'ONDIJON_CONFIG_INVALID',
        `CONSOLE_USERS_FILE ${file} cannot be read as JSON (${(error as Error).message})`,
      );
    }
    const parsed = UsersFile.safeParse(raw);
    if (!parsed.success)
      throw new OnDijonError(
        'ONDIJON_CONFIG_INVALID',
        `CONSOLE_USERS_FILE ${file} is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    return new Users(parsed.data.users);
  }

  /** The user when login and password match, else undefined. */
  async authenticate(login: string, password: string): Promise<SessionUser | undefined> {
    const entry = this.byLogin.get(login);
    const ok = await verifyPassword(password, entry?.passwordHash ?? this.decoy);
    if (!ok || entry === undefined) return undefined;
    return { login: entry.login, role: entry.role, ...(entry.operator ? { operator: entry.operator } : {}) };
  }

  /**
   * Whether a login still exists with the same role (a session outlives neither). A single sign-on
   * session was granted by the provider's claims at sign-in and lasts until it expires.
   */
  stillValid(user: SessionUser): boolean {
    if (user.via === 'oidc') return true;
    const entry = this.byLogin.get(user.login);
    return entry !== undefined && entry.role === user.role && entry.operator === user.operator;
  }
}

/**
 * The operator whose data a user asks for: operators only their own (anything else is `forbidden`);
 * supervisors and governance officers any, or all (`undefined`).
 */
export function operatorScope(
  user: SessionUser,
  requested: string | undefined,
): { ok: true; operator: string | undefined } | { ok: false } {
  if (user.role === 'operator') {
    if (requested !== undefined && requested !== '' && requested !== user.operator) return { ok: false };
    return { ok: true, operator: user.operator };
  }
  return { ok: true, operator: requested === '' ? undefined : requested };
}
