// Optional sign-in through the city's single sign-on (OpenID Connect, authorization code + PKCE), with
// `openid-client` (docs/console.md, "Single sign-on"). The provider's claims are mapped onto the same
// `SessionUser` a local login gives: a group (or any claim's value) → role, and for an operator its
// operator, so every check downstream (operatorScope, 403 on another operator's data) is unchanged.
import * as oidc from 'openid-client';
import { z } from 'zod';
import { Role, type SessionUser } from './users';

/** One entry of CONSOLE_OIDC_ROLE_MAP: a claim value and what it grants. */
export interface RoleGrant {
  value: string;
  role: Role;
  operator?: string;
}

/** `group=role` or `group=operator:<operator>`, comma-separated; first match wins (zod transform). */
export const RoleMapEnv = z.string().transform((s, ctx) => {
  const grants: RoleGrant[] = [];
  for (const part of s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.lastIndexOf('=');
    const value = part.slice(0, eq).trim();
    const [role, operator] = part
      .slice(eq + 1)
      .trim()
      .split(':') as [string, string | undefined];
    const parsed = Role.safeParse(role);
    if (eq <= 0 || !parsed.success) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part}": expected <claim value>=supervisor|governance|operator:<operator>`,
      });
      continue;
    }
    if ((parsed.data === 'operator') !== (operator !== undefined && operator !== '')) {
      ctx.addIssue({
        code: 'custom',
        message: `"${part}": an operator (and only an operator) names its operator`,
      });
      continue;
    }
    grants.push({ value, role: parsed.data, ...(operator ? { operator } : {}) });
  }
  return grants;
});

/** Settings of the OIDC login (from the console's config). */
export interface OidcSettings {
  issuer: URL;
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
  /** Where the provider sends the browser back after its logout (registered with the provider). */
  postLogoutRedirectUri?: string;
  scopes: string;
  /** Claim that names the user (audit lines, the page header). */
  loginClaim: string;
  /** Claim holding the groups (a string or an array of strings). */
  rolesClaim: string;
  roleMap: readonly RoleGrant[];
  /** Plain-HTTP provider (development and tests only; refused in production by the config). */
  allowHttp: boolean;
}

/** What the browser keeps between the redirect to the provider and the callback (a signed cookie). */
export interface PendingLogin {
  verifier: string;
  state: string;
  nonce: string;
  next: string;
}

/** The outcome of a callback: a user, or why not (never the tokens). */
export type CallbackOutcome =
  | { ok: true; user: SessionUser }
  | { ok: false; reason: 'no-role'; login: string }
  | { ok: false; reason: 'invalid'; error: string };

/** The user a set of claims maps to, or undefined when no claim value grants a role. */
export function userFromClaims(
  claims: Record<string, unknown>,
  settings: Pick<OidcSettings, 'loginClaim' | 'rolesClaim' | 'roleMap'>,
): SessionUser | undefined {
  const login = claims[settings.loginClaim] ?? claims.sub;
  if (typeof login !== 'string' || login === '') return undefined;
  const raw = claims[settings.rolesClaim];
  const values = new Set(
    (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string'),
  );
  const grant = settings.roleMap.find((g) => values.has(g.value));
  if (!grant) return undefined;
  return { login, role: grant.role, ...(grant.operator ? { operator: grant.operator } : {}), via: 'oidc' };
}

/** The OIDC login: discovery on first use (retried after a failure), authorization URL, callback. */
export class OidcLogin {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly settings: OidcSettings) {}

  private config(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(
        this.settings.issuer,
        this.settings.clientId,
        undefined,
        this.settings.clientSecret ? oidc.ClientSecretBasic(this.settings.clientSecret) : oidc.None(),
        this.settings.allowHttp ? { execute: [oidc.allowInsecureRequests] } : {},
      )
      .catch((err: unknown) => {
        this.configuration = undefined;
        throw err;
      });
    return this.configuration;
  }

  /** The provider's authorization URL and what to keep until the callback. */
  async start(next: string): Promise<{ url: string; pending: PendingLogin }> {
    const config = await this.config();
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: PendingLogin = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce(), next };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUri,
      scope: this.settings.scopes,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending };
  }

  /**
   * Exchanges the code (PKCE, state and nonce checked by openid-client), then maps the ID token's claims,
   * completed by the userinfo endpoint when the login or groups claim is not in the ID token.
   */
  async callback(query: string, pending: PendingLogin): Promise<CallbackOutcome> {
    try {
      const config = await this.config();
      const current = new URL(this.settings.redirectUri);
      current.search = query;
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      let claims: Record<string, unknown> = { ...tokens.claims()! };
      if (!(this.settings.rolesClaim in claims) || !(this.settings.loginClaim in claims))
        claims = {
          ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub as string)),
          ...claims,
        };
      const user = userFromClaims(claims, this.settings);
      if (user) return { ok: true, user };
      const login = claims[this.settings.loginClaim] ?? claims.sub;
      return { ok: false, reason: 'no-role', login: typeof login === 'string' ? login : '' };
    } catch (err) {
      return { ok: false, reason: 'invalid', error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** The provider's logout URL (RP-initiated logout), or undefined when it has none. */
  async logoutUrl(): Promise<string | undefined> {
    const config = await this.config();
    if (!config.serverMetadata().end_session_endpoint) return undefined;
    return oidc.buildEndSessionUrl(config, {
      client_id: this.settings.clientId,
      ...(this.settings.postLogoutRedirectUri
        ? { post_logout_redirect_uri: this.settings.postLogoutRedirectUri }
        : {}),
    }).href;
  }
}
