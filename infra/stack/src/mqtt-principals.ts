import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { infraDir, type StackConfig } from './config';

/**
 * Who may connect to the MQTT broker, and what each may do (docs/security.md "MQTT"):
 * - `admin`: everything (the stack's probes, tests' independent checks, operations);
 * - `ingest`: reads telemetry and the replay tree through the shared subscription, writes nothing;
 * - `replay`: the dead-letter replay tool; writes on the replay tree `ondijon/replay/v1/#` only (the one
 *   place ingest honours the replay user properties), reads nothing;
 * - one principal per operator (the `{operator}` segment of `ondijon/v1/{family}/{operator}/{id}`):
 *   writes under its own prefix only, reads nothing.
 */
export type MqttRole = 'admin' | 'ingest' | 'replay' | 'operator';

/** One MQTT principal of the local stack. */
export interface MqttPrincipal {
  /** Login name (for operators, the operator code). */
  username: string;
  role: MqttRole;
}

/** A principal with its password (read from `.stack/secrets/mqtt/<username>.password`). */
export interface MqttCredentials {
  username: string;
  password: string;
}

/** The fixed service principals. */
export const SERVICE_PRINCIPALS: readonly MqttPrincipal[] = [
  { username: 'admin', role: 'admin' },
  { username: 'ingest', role: 'ingest' },
  { username: 'replay', role: 'replay' },
];

/** Folder of the stack's generated secrets (mode 0700; files 0600). */
export function secretsDir(config: StackConfig): string {
  return path.join(config.dir, 'secrets');
}

function mqttSecretsDir(config: StackConfig): string {
  return path.join(secretsDir(config), 'mqtt');
}

/** File holding a principal's password. */
export function mqttPasswordFile(config: StackConfig, username: string): string {
  return path.join(mqttSecretsDir(config), `${username}.password`);
}

/** Writes a file readable by its owner only, atomically (temp file then rename). */
export function writeSecretFile(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  chmodSync(path.dirname(file), 0o700);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, file);
}

/** A new random password (32 bytes, base64url: no character that needs quoting anywhere). */
export function newPassword(): string {
  return randomBytes(32).toString('base64url');
}

/** The password of a principal, created on first use. */
export function ensureMqttPassword(config: StackConfig, username: string): string {
  const file = mqttPasswordFile(config, username);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = newPassword();
  writeSecretFile(file, `${password}\n`);
  return password;
}

/** Credentials of a principal when its password file exists (never creates one). */
export function readMqttCredentials(config: StackConfig, username: string): MqttCredentials | undefined {
  const file = mqttPasswordFile(config, username);
  return existsSync(file) ? { username, password: readFileSync(file, 'utf8').trim() } : undefined;
}

/** Credentials of a principal of the local stack (created on first use). */
export function mqttCredentials(config: StackConfig, username: string): MqttCredentials {
  return { username, password: ensureMqttPassword(config, username) };
}

/** Operator codes of the committed equipment registry (infra/registry/equipment.json). */
export function registryOperators(file = path.join(infraDir, 'registry', 'equipment.json')): string[] {
  const registry = JSON.parse(readFileSync(file, 'utf8')) as { equipment: { operator: string }[] };
  return [...new Set(registry.equipment.map((e) => e.operator))].sort();
}

/**
 * Artemis' one-way password hash (`ENC(iterations:salt:hash)`, PBKDF2-HMAC-SHA1, 64-byte key): the
 * users file never holds a password in clear. The format of `artemis user add`; the broker accepting
 * it is shown by every test that logs in (test/security/mqtt-operators.int.test.ts among them).
 */
export function artemisPasswordHash(password: string, salt = randomBytes(32), iterations = 1024): string {
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha1');
  return `ENC(${iterations}:${salt.toString('hex').toUpperCase()}:${hash.toString('hex').toUpperCase()})`;
}

/** Every permission Artemis knows; admin gets them all. */
const ALL_PERMISSIONS = [
  'send',
  'consume',
  'createAddress',
  'deleteAddress',
  'createDurableQueue',
  'deleteDurableQueue',
  'createNonDurableQueue',
  'deleteNonDurableQueue',
  'browse',
  'manage',
] as const;
type Permission = (typeof ALL_PERMISSIONS)[number];

/** Role name of an operator principal in the broker. */
export function operatorRole(operator: string): string {
  return `op-${operator}`;
}

/**
 * Topic prefixes the ACL allows before `ondijon/v1/` (as Artemis address words): none in production;
 * one word for `./ondijon run`'s per-run namespaces and two for tests' `t/<unique>/` (Artemis accepts
 * `#` only at the end of a match, so each depth is a match of its own).
 */
const PREFIX_DEPTHS = ['', '*.', '*.*.'];

function securitySetting(match: string, grants: Record<string, readonly Permission[]>): string {
  const lines = [`  <security-setting match="${match}">`];
  for (const permission of ALL_PERMISSIONS) {
    const roles = Object.entries(grants)
      .filter(([, permissions]) => permissions.includes(permission))
      .map(([role]) => role);
    if (roles.length > 0) lines.push(`    <permission type="${permission}" roles="${roles.join(',')}"/>`);
  }
  lines.push('  </security-setting>');
  return lines.join('\n');
}

/**
 * The broker's security settings: admin may do everything everywhere; ingest may subscribe (a durable
 * shared queue) to the telemetry tree and nothing else; each operator may publish under
 * `ondijon/v1/+/<operator>/#` and nothing else (no subscription anywhere, `$SYS` included); only the
 * replay principal may publish on the replay tree `ondijon/replay/v1/#`, which ingest reads too. Artemis
 * applies the most specific match, so an operator's prefix grants only what is listed there.
 */
export function securitySettingsXml(operators: readonly string[]): string {
  const admin = { admin: ALL_PERMISSIONS };
  const parts = ['<security-settings xmlns="urn:activemq:core">', securitySetting('#', admin)];
  for (const prefix of PREFIX_DEPTHS) {
    parts.push(
      securitySetting(`${prefix}ondijon.v1.#`, {
        ...admin,
        ingest: ['consume', 'createAddress', 'createDurableQueue'],
      }),
    );
    parts.push(
      securitySetting(`${prefix}ondijon.replay.v1.#`, {
        ...admin,
        ingest: ['consume', 'createAddress', 'createDurableQueue'],
        replay: ['send', 'createAddress'],
      }),
    );
    for (const operator of operators) {
      parts.push(
        securitySetting(`${prefix}ondijon.v1.*.${operator}.#`, {
          ...admin,
          [operatorRole(operator)]: ['send', 'createAddress'],
        }),
      );
    }
  }
  parts.push('</security-settings>', '');
  return parts.join('\n');
}

/** The principals of the local stack: the services and every operator of the registry. */
export function stackPrincipals(operators = registryOperators()): MqttPrincipal[] {
  return [
    ...SERVICE_PRINCIPALS,
    ...operators.map((username): MqttPrincipal => ({ username, role: 'operator' })),
  ];
}
