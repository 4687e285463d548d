// MQTT operator credentials of the local broker (issue 12, item 2): `pnpm operators add|list|rotate|revoke`.
// The state (who exists, hashes, certificate fingerprints, grace windows) is one JSON file under the
// stack's secrets; the broker's JAAS files are rendered from it and re-read by Artemis without a restart.
// No password is ever stored in clear by these commands: `add` and `rotate` print it once (or write it to
// the file the caller names), and keep only Artemis' PBKDF2 hash. See docs/security.md "MQTT operators".
import { createHash, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { StackError, infraDir, mqttOperatorCapsOf, type StackConfig } from './config';
import {
  SERVICE_PRINCIPALS,
  artemisPasswordHash,
  ensureMqttPassword,
  mqttPasswordFile,
  operatorRole,
  registryOperators,
  secretsDir,
  securitySettingsXml,
  writeSecretFile,
} from './mqtt-principals';
import { mqttCrlFile, writeMqttCrl, type RevokedCertificate } from './mqtt-tls';

/** A password hash of an operator, with when it was issued (and, for the previous one, until when it works). */
export interface PasswordRecord {
  hash: string;
  issuedAt: string;
  expiresAt?: string;
}

/** A client certificate issued to an operator (the key never leaves the folder it was written to). */
export interface CertificateRecord {
  serial: string;
  /** Subject DN as the broker compares it, e.g. `CN=citelum, OU=cert-1a2b, O=OnDijon`. */
  subject: string;
  sha256: string;
  issuedAt: string;
  notAfter: string;
  /** Set on the previous certificate during a rotation's grace window. */
  expiresAt?: string;
}

/** One operator principal. */
export interface OperatorRecord {
  operator: string;
  /** `registry`: created by the stack from the equipment registry (its password file is the simulator's). */
  source: 'registry' | 'command';
  status: 'active' | 'revoked';
  createdAt: string;
  updatedAt: string;
  password: PasswordRecord | null;
  /** The password before the last rotation, valid until its `expiresAt`. */
  previousPassword: PasswordRecord | null;
  certificate: CertificateRecord | null;
  previousCertificate: CertificateRecord | null;
  revokedAt?: string;
  /** Certificates revoked (by `revoke`) or superseded (a rotation's grace window ended): on the CA's CRL. */
  revokedCertificates?: RevokedCertificate[];
}

/** Puts a certificate on the operator's list of revoked ones (the CA's CRL is rendered from it). */
export function revokeCertificate(record: OperatorRecord, cert: CertificateRecord | null, at: string): void {
  if (cert === null) return;
  const list = (record.revokedCertificates ??= []);
  if (!list.some((c) => c.serial === cert.serial))
    list.push({ serial: cert.serial, subject: cert.subject, notAfter: cert.notAfter, revokedAt: at });
}

/** Every operator the broker knows. */
export interface OperatorsState {
  version: 1;
  operators: Record<string, OperatorRecord>;
}

/** File of the operators' state (0600): hashes and fingerprints only. */
export function operatorsStateFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(secretsDir(config as StackConfig), 'mqtt-operators.json');
}

/** The append-only audit log of operator credential changes (one JSON object a line). */
export function operatorsAuditFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(config.dir, 'audit', 'mqtt-operators.log');
}

/** Folder of the broker's generated configuration. */
function etcDir(config: Pick<StackConfig, 'dir'>): string {
  return path.join(config.dir, 'artemis', 'etc');
}

const nowIso = (now: number) => new Date(now).toISOString();

function emptyState(): OperatorsState {
  return { version: 1, operators: {} };
}

/** Reads the state (empty when the file does not exist yet). */
export function readOperatorsState(config: Pick<StackConfig, 'dir'>): OperatorsState {
  const file = operatorsStateFile(config);
  if (!existsSync(file)) return emptyState();
  const state = JSON.parse(readFileSync(file, 'utf8')) as OperatorsState;
  if (state.version !== 1) throw new StackError(`${file} has version ${String(state.version)}; expected 1.`);
  return state;
}

export function writeOperatorsState(config: Pick<StackConfig, 'dir'>, state: OperatorsState): void {
  writeSecretFile(operatorsStateFile(config), `${JSON.stringify(state, null, 2)}\n`);
}

/**
 * Runs `fn` holding the operators' lock (a file created exclusively), so two commands, or a command and a
 * grace-window expiry, never interleave their read-modify-write of the state.
 */
export async function withOperatorsLock<T>(
  config: Pick<StackConfig, 'dir'>,
  fn: () => Promise<T> | T,
): Promise<T> {
  const lock = `${operatorsStateFile(config)}.lock`;
  mkdirSync(path.dirname(lock), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than a minute was left by a process that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline)
        throw new StackError(`${lock} is held by another operators command; retry when it has finished.`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Checks a password against an Artemis `ENC(iterations:salt:hash)` hash. */
export function verifyArtemisHash(password: string, hash: string): boolean {
  const m = /^ENC\((\d+):([0-9A-F]+):([0-9A-F]+)\)$/i.exec(hash);
  if (!m) return false;
  const expected = Buffer.from(m[3]!, 'hex');
  const actual = pbkdf2Sync(password, Buffer.from(m[2]!, 'hex'), Number(m[1]), expected.length, 'sha1');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Who runs a command: `ONDIJON_ACTOR` when set (a CI job, a ticket), else `<os user>@<host>`. */
export function defaultActor(env: NodeJS.ProcessEnv = process.env): string {
  const actor = env.ONDIJON_ACTOR?.trim();
  if (actor) return actor;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  return `${user}@${hostname()}`;
}

/** One line of the audit log. */
export interface AuditEntry {
  at: string;
  actor: string;
  action: 'register' | 'add' | 'rotate' | 'revoke' | 'expire' | 'list';
  operator: string | null;
  detail: Record<string, unknown>;
}

/**
 * Appends one line to the audit log (opened in append mode only, 0600). Each line carries the SHA-256 of
 * the line before it (`prev`), so a line removed or edited later breaks the chain (`verifyAuditChain`).
 */
export function appendAudit(config: Pick<StackConfig, 'dir'>, entry: AuditEntry): void {
  const file = operatorsAuditFile(config);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  let prev = 'genesis';
  if (existsSync(file)) {
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const last = lines.at(-1);
    if (last !== undefined) prev = createHash('sha256').update(last).digest('hex');
  }
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, `${JSON.stringify({ ...entry, prev })}\n`);
  } finally {
    closeSync(fd);
  }
}

/** True when every line of the audit log names the hash of the line before it. */
export function verifyAuditChain(config: Pick<StackConfig, 'dir'>): boolean {
  const file = operatorsAuditFile(config);
  if (!existsSync(file)) return true;
  let prev = 'genesis';
  for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    if ((JSON.parse(line) as { prev?: string }).prev !== prev) return false;
    prev = createHash('sha256').update(line).digest('hex');
  }
  return true;
}

/** Removes passwords and certificates whose grace window has ended; returns the operators concerned. */
export function pruneExpired(state: OperatorsState, now: number): string[] {
  const expired: string[] = [];
  for (const record of Object.values(state.operators)) {
    let changed = false;
    if (record.previousPassword?.expiresAt && Date.parse(record.previousPassword.expiresAt) <= now) {
      record.previousPassword = null;
      changed = true;
    }
    if (record.previousCertificate?.expiresAt && Date.parse(record.previousCertificate.expiresAt) <= now) {
      revokeCertificate(record, record.previousCertificate, nowIso(now));
      record.previousCertificate = null;
      changed = true;
    }
    if (changed) {
      record.updatedAt = nowIso(now);
      expired.push(record.operator);
    }
  }
  return expired;
}

/** The earliest end of a grace window still open, if any. */
export function nextExpiry(state: OperatorsState): number | undefined {
  const times = Object.values(state.operators)
    .flatMap((r) => [r.previousPassword?.expiresAt, r.previousCertificate?.expiresAt])
    .filter((t): t is string => t !== undefined)
    .map((t) => Date.parse(t));
  return times.length === 0 ? undefined : Math.min(...times);
}

/**
 * Adds the registry's operators that the state does not know yet (their password is the stack's file,
 * read by the simulator), and re-hashes a registry operator whose file no longer matches its hash (the
 * file was replaced by hand). A revoked operator stays revoked.
 */
export function syncRegistryOperators(
  config: Pick<StackConfig, 'dir'>,
  state: OperatorsState,
  now: number,
  operators = registryOperators(),
): string[] {
  const added: string[] = [];
  for (const operator of operators) {
    const record = state.operators[operator];
    if (record === undefined) {
      const password = ensureMqttPassword(config as StackConfig, operator);
      state.operators[operator] = {
        operator,
        source: 'registry',
        status: 'active',
        createdAt: nowIso(now),
        updatedAt: nowIso(now),
        password: { hash: artemisPasswordHash(password), issuedAt: nowIso(now) },
        previousPassword: null,
        certificate: null,
        previousCertificate: null,
      };
      added.push(operator);
    } else if (record.status === 'active' && record.source === 'registry') {
      const file = mqttPasswordFile(config as StackConfig, operator);
      if (existsSync(file)) {
        const password = readFileSync(file, 'utf8').trim();
        if (record.password === null || !verifyArtemisHash(password, record.password.hash))
          record.password = { hash: artemisPasswordHash(password), issuedAt: nowIso(now) };
      }
    }
  }
  return added;
}

function writeAtomically(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, file);
}

const HEADER = '# Generated by the OnDijon stack (infra/stack/src/operators.ts); do not edit.\n';

/**
 * The broker guard's file (infra/artemis/ClientIdGuard.java), in the primary's etc folder beside the JAAS
 * files: every node of the broker (the single node, or both of the replicated pair) is started with its
 * path (`ondijon.guardFile`, infra/stack/src/artemis.ts), so a backup that takes over applies the same caps
 * and revocations.
 */
export function mqttGuardFile(config: Pick<StackConfig, 'dir'>): string {
  return path.join(etcDir(config), 'ondijon-guard.properties');
}

/**
 * What the broker's guard enforces: the operators' caps (from the stack's config), the principals they do
 * not apply to (the services), the revoked operators (refused, and their live connections closed as soon
 * as the broker reads this file) and the CA's CRL.
 */
export function guardProperties(
  config: Pick<StackConfig, 'dir'> & Partial<Pick<StackConfig, 'mqttOperatorCaps'>>,
  state: OperatorsState,
): string {
  const caps = config.mqttOperatorCaps ?? mqttOperatorCapsOf();
  const revoked = Object.values(state.operators)
    .filter((r) => r.status === 'revoked')
    .map((r) => r.operator)
    .sort();
  return [
    HEADER.trimEnd(),
    `maxConnections=${caps.maxConnections}`,
    `maxSessionExpirySeconds=${caps.maxSessionExpirySeconds}`,
    `maxInflightBytes=${caps.maxInflightBytes}`,
    `exempt=${SERVICE_PRINCIPALS.map((p) => p.username).join(',')}`,
    `revoked=${revoked.join(',')}`,
    `crl=${mqttCrlFile(config)}`,
    '',
  ].join('\n');
}

/** The broker's JAAS files and security settings, as text, for a state. */
export function renderAccessFiles(
  config: Pick<StackConfig, 'dir'>,
  state: OperatorsState,
): Record<string, string> {
  const users: string[] = [];
  const roles = new Map<string, string[]>();
  const addRole = (role: string, user: string) => roles.set(role, [...(roles.get(role) ?? []), user]);
  for (const p of SERVICE_PRINCIPALS) {
    const password = ensureMqttPassword(config as StackConfig, p.username);
    users.push(`${p.username} = ${artemisPasswordHash(password)}`);
    addRole(p.role, p.username);
  }
  const grace: string[] = [];
  const certs: string[] = [];
  const certsGrace: string[] = [];
  const active = Object.values(state.operators)
    .filter((r) => r.status === 'active')
    .sort((a, b) => a.operator.localeCompare(b.operator));
  for (const r of active) {
    if (r.password) users.push(`${r.operator} = ${r.password.hash}`);
    if (r.previousPassword) grace.push(`${r.operator} = ${r.previousPassword.hash}`);
    if (r.certificate) certs.push(`${r.operator} = ${r.certificate.subject}`);
    if (r.previousCertificate) certsGrace.push(`${r.operator} = ${r.previousCertificate.subject}`);
    addRole(operatorRole(r.operator), r.operator);
  }
  const lines = (l: string[]) => `${HEADER}${l.join('\n')}${l.length > 0 ? '\n' : ''}`;
  return {
    'users.properties': lines(users),
    'users-grace.properties': lines(grace),
    'cert-users.properties': lines(certs),
    'cert-users-grace.properties': lines(certsGrace),
    'roles.properties': lines([...roles].map(([role, names]) => `${role} = ${names.join(',')}`)),
    'security-settings.xml': securitySettingsXml(active.map((r) => r.operator)),
  };
}

/**
 * Writes the broker's access files from the state (atomically, 0600) and touches broker.xml so that
 * Artemis re-reads the included security settings (the JAAS files are re-read at the next login,
 * `reload=true`). The users file is written last: a new operator's prefix exists before it can log in.
 */
export function writeAccessFiles(
  config: Pick<StackConfig, 'dir'> & Partial<Pick<StackConfig, 'mqttOperatorCaps'>>,
  state: OperatorsState,
): void {
  const etc = etcDir(config);
  mkdirSync(etc, { recursive: true });
  const files = renderAccessFiles(config, state);
  const order = [
    'security-settings.xml',
    'roles.properties',
    'cert-users-grace.properties',
    'cert-users.properties',
    'users-grace.properties',
    'users.properties',
  ];
  for (const name of order) writeAtomically(path.join(etc, name), files[name]!, 0o600);
  // The CRL before the guard's file that names it; the guard re-reads both within 250 ms.
  writeMqttCrl(
    config,
    Object.values(state.operators).flatMap((r) => r.revokedCertificates ?? []),
  );
  writeAtomically(mqttGuardFile(config), guardProperties(config, state), 0o600);
  writeAtomically(
    path.join(etc, 'broker.xml'),
    readFileSync(path.join(infraDir, 'artemis', 'broker.xml'), 'utf8'),
    0o644,
  );
}

/**
 * Brings the broker's access files in step with the state, after adding the registry's new operators
 * and dropping expired grace credentials (`pnpm stack up` calls this before starting the broker).
 */
export async function syncMqttAccess(config: Pick<StackConfig, 'dir'>, now = Date.now()): Promise<void> {
  await withOperatorsLock(config, () => {
    const state = readOperatorsState(config);
    const added = syncRegistryOperators(config, state, now);
    const expired = pruneExpired(state, now);
    writeOperatorsState(config, state);
    writeAccessFiles(config, state);
    for (const operator of added)
      appendAudit(config, {
        at: nowIso(now),
        actor: 'stack',
        action: 'register',
        operator,
        detail: { source: 'infra/registry/equipment.json', credential: 'password' },
      });
    for (const operator of expired)
      appendAudit(config, { at: nowIso(now), actor: 'stack', action: 'expire', operator, detail: {} });
  });
}
