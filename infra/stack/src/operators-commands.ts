// The actions of `pnpm operators` (infra/stack/src/operators-cli.ts), callable from tests.
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { OPERATOR_PATTERN } from '@ondijon/contracts';
import { artemisHome, artemisProcess } from './artemis';
import { StackError, repoRoot, type StackConfig } from './config';
import { compileArtemisJava } from './java-tools';
import {
  SERVICE_PRINCIPALS,
  artemisPasswordHash,
  mqttPasswordFile,
  newPassword,
  writeSecretFile,
} from './mqtt-principals';
import { issueClientCertificate, type IssuedCertificate } from './mqtt-tls';
import {
  appendAudit,
  defaultActor,
  nextExpiry,
  pruneExpired,
  readOperatorsState,
  revokeCertificate,
  syncRegistryOperators,
  withOperatorsLock,
  writeAccessFiles,
  writeOperatorsState,
  type OperatorRecord,
  type OperatorsState,
} from './operators';
import { requireJava } from './prerequisites';

const execFileAsync = promisify(execFile);

/** Options every action takes. */
export interface OperatorsOptions {
  /** Who acts (audit); default `ONDIJON_ACTOR` or `<os user>@<host>`. */
  actor?: string;
  /** Clock (tests). */
  now?: () => number;
}

/** Result of calling the broker's management. */
export interface ManagementResult {
  /** False when the broker is not running (nothing to reload or disconnect). */
  reached: boolean;
  /** `<operation>` → its result, as printed by ArtemisAdmin.java. */
  results: Record<string, string>;
}

/**
 * Invokes broker operations (`operation|arg|arg`) through its loopback core-protocol acceptor as the
 * admin principal (infra/artemis/ArtemisAdmin.java with Artemis' client jars).
 */
export async function artemisManagement(
  config: StackConfig,
  operations: string[],
  /** How long the operations may take (default 60 s; destroying a queue of 150 000 messages takes ~1 min). */
  timeoutMs = 60_000,
): Promise<ManagementResult> {
  if (artemisProcess(config) === undefined) return { reached: false, results: {} };
  const java = requireJava();
  const classes = await compileArtemisJava(config, artemisHome(config), 'ArtemisAdmin');
  const { stdout } = await execFileAsync(
    java,
    [
      '-Xshare:auto',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      `${classes}${path.delimiter}${path.join(artemisHome(config), 'lib', '*')}`,
      'ArtemisAdmin',
      `tcp://127.0.0.1:${config.mqttAdminPort}`,
      'admin',
      mqttPasswordFile(config, 'admin'),
      ...operations,
    ],
    { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
  ).catch((error: unknown) => {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new StackError(
      `The MQTT broker's management did not answer (${stderr.split('\n').at(-1)?.slice(0, 200) ?? 'no output'}); check \`pnpm stack status\` and retry.`,
    );
  });
  const results: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) results[line.slice(0, tab)] = line.slice(tab + 1);
  }
  return { reached: true, results };
}

/** After the files changed: the broker re-reads its security settings and forgets cached logins now. */
const REFRESH = ['reloadConfigurationFile', 'clearAuthorizationCache', 'clearAuthenticationCache'];

function checkOperator(operator: string): void {
  if (!OPERATOR_PATTERN.test(operator))
    throw new StackError(
      `"${operator}" is not an operator code: lower-case letters, digits and dashes, 2 to 48 characters (the MQTT topic's operator segment).`,
    );
  if (SERVICE_PRINCIPALS.some((p) => p.username === operator))
    throw new StackError(`"${operator}" is a service principal of the broker, not an operator.`);
}

/** Parses a grace window such as `10m`, `24h`, `7d`, `30s`. */
export function parseGrace(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (!m) throw new StackError(`--grace ${text} is not a duration; use e.g. 30s, 10m, 24h or 7d.`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** The new credentials an action issued (the password only here, never stored in clear). */
export interface IssuedCredentials {
  operator: string;
  /** The new password, when one was issued and not written to a file. */
  password?: string;
  /** Where the password was written instead of being returned. */
  passwordFile?: string;
  certificate?: IssuedCertificate;
  /** End of the grace window of the previous credentials (rotate). */
  graceUntil?: string;
  management: ManagementResult;
}

/** Options of add and rotate. */
export interface IssueOptions extends OperatorsOptions {
  /** Issue a client certificate (CN = operator) instead of, or with, a password. */
  cert?: boolean;
  /** Issue no password (certificate only). */
  noPassword?: boolean;
  /** Write the password to this file (0600) instead of returning it for printing. */
  passwordFile?: string;
  /** Folder for the certificate's key, certificate and the CA (default `.stack/secrets/mqtt-clients/<operator>`). */
  certDir?: string;
}

async function mutate<T>(
  config: StackConfig,
  now: number,
  fn: (state: OperatorsState) => Promise<T> | T,
): Promise<T> {
  return withOperatorsLock(config, async () => {
    const state = readOperatorsState(config);
    syncRegistryOperators(config, state, now);
    for (const operator of pruneExpired(state, now))
      appendAudit(config, {
        at: new Date(now).toISOString(),
        actor: 'expiry',
        action: 'expire',
        operator,
        detail: {},
      });
    const result = await fn(state);
    writeOperatorsState(config, state);
    writeAccessFiles(config, state);
    return result;
  });
}

async function issue(
  config: StackConfig,
  record: OperatorRecord,
  options: IssueOptions,
  now: number,
): Promise<Omit<IssuedCredentials, 'management' | 'graceUntil'>> {
  const out: Omit<IssuedCredentials, 'management' | 'graceUntil'> = { operator: record.operator };
  if (!options.noPassword) {
    const password = newPassword();
    record.password = { hash: artemisPasswordHash(password), issuedAt: new Date(now).toISOString() };
    // A registry operator's password lives in the stack's file (the simulator's gateways read it).
    const file =
      options.passwordFile ??
      (record.source === 'registry' ? mqttPasswordFile(config, record.operator) : undefined);
    if (file !== undefined) {
      writeSecretFile(path.resolve(file), `${password}\n`);
      out.passwordFile = path.resolve(file);
    } else out.password = password;
  } else record.password = null;
  if (options.cert) {
    const dir = options.certDir ?? path.join(config.dir, 'secrets', 'mqtt-clients', record.operator);
    const cert = await issueClientCertificate(config, record.operator, path.resolve(dir));
    record.certificate = {
      serial: cert.serial,
      subject: cert.subject,
      sha256: cert.sha256,
      issuedAt: new Date(now).toISOString(),
      notAfter: cert.notAfter,
    };
    out.certificate = cert;
  }
  return out;
}

/** `operators add <operator>`: a new operator (or a revoked one back) with a new password and/or certificate. */
export async function addOperator(
  config: StackConfig,
  operator: string,
  options: IssueOptions = {},
): Promise<IssuedCredentials> {
  checkOperator(operator);
  if (options.noPassword && !options.cert)
    throw new StackError('--no-password needs --cert: an operator needs a credential.');
  const now = (options.now ?? Date.now)();
  const issued = await mutate(config, now, async (state) => {
    const existing = state.operators[operator];
    if (existing?.status === 'active')
      throw new StackError(
        `Operator ${operator} exists already; use \`pnpm operators rotate ${operator}\` for new credentials.`,
      );
    const record: OperatorRecord = {
      operator,
      source: existing?.source ?? 'command',
      status: 'active',
      createdAt: existing?.createdAt ?? new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      password: null,
      previousPassword: null,
      certificate: null,
      previousCertificate: null,
      // Certificates revoked earlier stay on the CRL when the operator comes back.
      ...(existing?.revokedCertificates ? { revokedCertificates: existing.revokedCertificates } : {}),
    };
    state.operators[operator] = record;
    const out = await issue(config, record, options, now);
    appendAudit(config, {
      at: new Date(now).toISOString(),
      actor: options.actor ?? defaultActor(),
      action: 'add',
      operator,
      detail: {
        password: !options.noPassword,
        ...(out.certificate
          ? { certificate: { serial: out.certificate.serial, sha256: out.certificate.sha256 } }
          : {}),
        ...(existing ? { readded: true } : {}),
      },
    });
    return out;
  });
  return { ...issued, management: await artemisManagement(config, REFRESH) };
}

/** Options of rotate. */
export interface RotateOptions extends IssueOptions {
  /** How long the previous credentials keep working (ms; default 24 h; 0 = none). */
  graceMs?: number;
}

/**
 * `operators rotate <operator>`: new credentials of the same kinds (or those asked for); the previous
 * password and certificate keep working until the end of the grace window, then `expire` (run by a
 * background timer that rotate starts, by any later command, and by `pnpm stack up`) removes them.
 */
export async function rotateOperator(
  config: StackConfig,
  operator: string,
  options: RotateOptions = {},
): Promise<IssuedCredentials> {
  checkOperator(operator);
  const now = (options.now ?? Date.now)();
  const graceMs = options.graceMs ?? 86_400_000;
  const graceUntil = new Date(now + graceMs).toISOString();
  const issued = await mutate(config, now, async (state) => {
    const record = state.operators[operator];
    if (record?.status !== 'active')
      throw new StackError(
        `Operator ${operator} is not active; \`pnpm operators add ${operator}\` creates it.`,
      );
    const cert = options.cert ?? record.certificate !== null;
    const noPassword = options.noPassword ?? (record.password === null && cert);
    if (graceMs > 0) {
      if (record.password && !noPassword)
        record.previousPassword = { ...record.password, expiresAt: graceUntil };
      if (record.certificate && cert)
        record.previousCertificate = { ...record.certificate, expiresAt: graceUntil };
    } else {
      record.previousPassword = null;
      record.previousCertificate = null;
    }
    const passwordBefore = record.password;
    const out = await issue(config, record, { ...options, cert, noPassword }, now);
    if (noPassword) record.password = passwordBefore;
    record.updatedAt = new Date(now).toISOString();
    appendAudit(config, {
      at: new Date(now).toISOString(),
      actor: options.actor ?? defaultActor(),
      action: 'rotate',
      operator,
      detail: {
        password: !noPassword,
        ...(out.certificate
          ? { certificate: { serial: out.certificate.serial, sha256: out.certificate.sha256 } }
          : {}),
        graceUntil: graceMs > 0 ? graceUntil : null,
      },
    });
    return out;
  });
  const management = await artemisManagement(config, REFRESH);
  if (graceMs > 0) scheduleExpiry(config, now + graceMs);
  return { ...issued, ...(graceMs > 0 ? { graceUntil } : {}), management };
}

/**
 * Starts a detached `pnpm operators expire --wait` that sleeps until the next grace window ends, removes
 * the expired credentials and exits (its output goes to `.stack/audit/expiry.log`). It is a convenience:
 * every command and `pnpm stack up` also remove what has expired.
 */
function scheduleExpiry(config: StackConfig, _at: number): void {
  if (process.env.ONDIJON_OPERATORS_NO_TIMER === '1') return;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'infra', 'stack', 'src', 'operators-cli.ts'), 'expire', '--wait'],
    {
      cwd: repoRoot,
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, ONDIJON_STACK_DIR: config.dir },
    },
  );
  child.on('error', () => undefined);
  child.unref();
}

/** `operators expire`: removes the credentials whose grace window has ended (with `wait`, first sleeps until the next one). */
export async function expireOperators(
  config: StackConfig,
  options: OperatorsOptions & { wait?: boolean } = {},
): Promise<{ expired: string[]; management: ManagementResult }> {
  if (options.wait) {
    // Sleep until the earliest window ends, looking again every minute: a window closed meanwhile (an
    // earlier expiry, a revocation) ends the wait, so the timer never outlives what it waits for.
    for (;;) {
      const next = nextExpiry(readOperatorsState(config));
      if (next === undefined) break;
      const wait = next - Date.now();
      if (wait <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(wait + 50, 60_000)));
    }
  }
  const now = (options.now ?? Date.now)();
  const expired = await withOperatorsLock(config, () => {
    const state = readOperatorsState(config);
    const gone = pruneExpired(state, now);
    if (gone.length > 0) {
      writeOperatorsState(config, state);
      writeAccessFiles(config, state);
      for (const operator of gone)
        appendAudit(config, {
          at: new Date(now).toISOString(),
          actor: options.actor ?? 'expiry',
          action: 'expire',
          operator,
          detail: {},
        });
    }
    return gone;
  });
  const management =
    expired.length > 0
      ? await artemisManagement(config, ['clearAuthenticationCache'])
      : { reached: false, results: {} };
  return { expired, management };
}

/**
 * `operators revoke <operator>`: removes every credential of the operator (passwords, certificates, its
 * topic prefix; a registry operator's password file too), then closes its live connections through the
 * broker's management. Its next login is refused.
 */
export async function revokeOperator(
  config: StackConfig,
  operator: string,
  options: OperatorsOptions = {},
): Promise<{ management: ManagementResult }> {
  checkOperator(operator);
  const now = (options.now ?? Date.now)();
  await mutate(config, now, (state) => {
    const record = state.operators[operator];
    if (record?.status !== 'active')
      throw new StackError(`Operator ${operator} is not active; nothing to revoke.`);
    record.status = 'revoked';
    record.revokedAt = new Date(now).toISOString();
    record.updatedAt = record.revokedAt;
    record.password = null;
    record.previousPassword = null;
    revokeCertificate(record, record.certificate, record.revokedAt);
    revokeCertificate(record, record.previousCertificate, record.revokedAt);
    record.certificate = null;
    record.previousCertificate = null;
    if (record.source === 'registry') rmSync(mqttPasswordFile(config, operator), { force: true });
  });
  // Files first: the broker's guard reads the revoked list within 250 ms, refuses the operator and closes
  // its live MQTT connections. Then, through management, the reload, the caches and
  // closeConnectionsForUser, which also closes what the guard (an MQTT interceptor) never sees: a
  // core-protocol session of the operator on the management acceptor (docs/security.md, "revoke"). Its
  // failure (a JVM that does not answer in time on a saturated machine) does not undo the revocation.
  const management = await artemisManagement(config, [
    ...REFRESH,
    `closeConnectionsForUser|${operator}`,
  ]).catch((error: unknown): ManagementResult & { error: string } => ({
    reached: false,
    results: {},
    error: error instanceof Error ? error.message : String(error),
  }));
  appendAudit(config, {
    at: new Date(now).toISOString(),
    actor: options.actor ?? defaultActor(),
    action: 'revoke',
    operator,
    detail: {
      connectionsClosed: management.reached ? management.results.closeConnectionsForUser === 'true' : null,
      brokerReached: management.reached,
      ...('error' in management ? { managementError: management.error } : {}),
    },
  });
  return { management };
}

/** One line of `operators list`. */
export interface OperatorListing {
  operator: string;
  source: OperatorRecord['source'];
  status: OperatorRecord['status'];
  password: 'set' | 'none';
  passwordIssuedAt: string | null;
  graceUntil: string | null;
  certificate: { serial: string; notAfter: string; sha256: string } | null;
  certificateGraceUntil: string | null;
  revokedAt: string | null;
}

/** `operators list`: every operator and the state of its credentials (no secret, no hash). */
export async function listOperators(
  config: StackConfig,
  options: OperatorsOptions = {},
): Promise<OperatorListing[]> {
  const now = (options.now ?? Date.now)();
  const state = await mutate(config, now, (s) => s);
  appendAudit(config, {
    at: new Date(now).toISOString(),
    actor: options.actor ?? defaultActor(),
    action: 'list',
    operator: null,
    detail: {},
  });
  return Object.values(state.operators)
    .sort((a, b) => a.operator.localeCompare(b.operator))
    .map((r) => ({
      operator: r.operator,
      source: r.source,
      status: r.status,
      password: r.password ? 'set' : 'none',
      passwordIssuedAt: r.password?.issuedAt ?? null,
      graceUntil: r.previousPassword?.expiresAt ?? null,
      certificate: r.certificate
        ? { serial: r.certificate.serial, notAfter: r.certificate.notAfter, sha256: r.certificate.sha256 }
        : null,
      certificateGraceUntil: r.previousCertificate?.expiresAt ?? null,
      revokedAt: r.revokedAt ?? null,
    }));
}
