// Credentials of the local stack (issue 12, item 6: secure by default): generated once under
// `.stack/secrets/` (folder 0700, files 0600), read by the stack, `./ondijon run` and the tests. Nothing
// here is ever printed or logged; callers pass file paths (`<NAME>_FILE`) to services where they can.
import { generateKeyPairSync, pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  PUBLISHER_REDIS_COMMANDS,
  kafkaPrincipals,
  type KafkaPrincipal,
  OPERATORS,
} from '@ondijon/contracts';
import { hashPassword } from '@ondijon/service-kit';
import { RUNTIME_REDIS_COMMANDS } from '@ondijon/stream';
import type { StackConfig } from './config';
import { ensureMqttPassword, mqttPasswordFile } from './mqtt-principals';

/** Redis users of the stack: the admin (stack, tests, run pruning) and one per service that uses Redis. */
export const REDIS_USERS = {
  admin: { keys: ['*'], commands: null },
  processors: { keys: ['processors:*'], commands: RUNTIME_REDIS_COMMANDS },
  publisher: { keys: ['publisher:*'], commands: PUBLISHER_REDIS_COMMANDS },
} as const;

/** A Redis user of the stack. */
export type RedisUser = keyof typeof REDIS_USERS;

/** The Kafka controller listener's own user (SASL/PLAIN, static, never a client). */
export const KAFKA_CONTROLLER_USER = 'controller';

/** Folder of the stack's secrets. */
export function secretsDir(config: Pick<StackConfig, 'dir'>): string {
  return path.join(config.dir, 'secrets');
}

/** Reads a secret file, creating it with a fresh random value (0600) when absent. */
function secretFile(
  config: Pick<StackConfig, 'dir'>,
  name: string,
  bytes = 24,
): { file: string; value: string } {
  const dir = secretsDir(config);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = path.join(dir, name);
  if (!existsSync(file))
    writeFileSync(file, randomBytes(bytes).toString('base64url'), { mode: 0o600, flag: 'wx' });
  return { file, value: readFileSync(file, 'utf8').trim() };
}

/** Password file and value of a Kafka principal (`kafka-<name>.password`). */
export function kafkaSecret(config: Pick<StackConfig, 'dir'>, principal: KafkaPrincipal | 'controller') {
  return secretFile(config, `kafka-${principal}.password`);
}

/** Password file and value of a Redis user (`redis-<name>.password`). */
export function redisSecret(config: Pick<StackConfig, 'dir'>, user: RedisUser) {
  return secretFile(config, `redis-${user}.password`);
}

/** The pseudonymisation secret of the local pipeline (`pseudonym.secret`, 43 characters). */
export function pseudonymSecret(config: Pick<StackConfig, 'dir'>) {
  return secretFile(config, 'pseudonym.secret', 32);
}

/**
 * The dead-letter sealing key pair (X25519, PEM): ingest gets the public key
 * (`dead-letter-seal.pub`), only the replay tool the private key (`dead-letter-seal.key`, 0600);
 * packages/governance/src/seal.ts.
 */
export function deadLetterKeyPair(config: Pick<StackConfig, 'dir'>): {
  publicFile: string;
  privateFile: string;
} {
  const dir = secretsDir(config);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const publicFile = path.join(dir, 'dead-letter-seal.pub');
  const privateFile = path.join(dir, 'dead-letter-seal.key');
  if (!existsSync(privateFile) || !existsSync(publicFile)) {
    const pair = generateKeyPairSync('x25519', {
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    writeFileSync(`${privateFile}.tmp`, pair.privateKey, { mode: 0o600 });
    writeFileSync(`${publicFile}.tmp`, pair.publicKey, { mode: 0o600 });
    renameSync(`${privateFile}.tmp`, privateFile);
    renameSync(`${publicFile}.tmp`, publicFile);
  }
  return { publicFile, privateFile };
}

/** The publisher's admin bearer token (`publisher-admin.token`). */
export function publisherAdminToken(config: Pick<StackConfig, 'dir'>) {
  return secretFile(config, 'publisher-admin.token', 32);
}

/** The secret key of the optional S3 server's identity (`s3-ondijon.secret`). */
export function s3Secret(config: Pick<StackConfig, 'dir'>) {
  return secretFile(config, 's3-ondijon.secret', 30);
}

/** The key that signs the console's session and CSRF cookies (`console-session.key`). */
export function consoleSessionSecret(config: Pick<StackConfig, 'dir'>) {
  return secretFile(config, 'console-session.key', 32);
}

/** A demo login of the console: one operator login per operator of the registry, a supervisor, a governance officer. */
export interface ConsoleDemoUser {
  login: string;
  role: 'operator' | 'supervisor' | 'governance';
  operator?: string;
}

/** The console's demo logins of the local stack. */
export const CONSOLE_DEMO_USERS: readonly ConsoleDemoUser[] = [
  ...Object.keys(OPERATORS).map((operator) => ({ login: operator, role: 'operator' as const, operator })),
  { login: 'superviseur', role: 'supervisor' },
  { login: 'gouvernance', role: 'governance' },
];

/** Password file and value of a console demo login (`console-<login>.password`). */
export function consoleUserSecret(config: Pick<StackConfig, 'dir'>, login: string) {
  return secretFile(config, `console-${login}.password`, 18);
}

/**
 * The console's users file (`console-users.json`: logins, roles and scrypt hashes, never a password),
 * written when missing or when a password file is newer than it; returns its path.
 */
export function consoleUsersFile(config: Pick<StackConfig, 'dir'>): string {
  const file = path.join(secretsDir(config), 'console-users.json');
  const secrets = CONSOLE_DEMO_USERS.map((u) => ({ user: u, secret: consoleUserSecret(config, u.login) }));
  const stale =
    !existsSync(file) ||
    secrets.some(({ secret }) => statSync(secret.file).mtimeMs > statSync(file).mtimeMs) ||
    !CONSOLE_DEMO_USERS.every((u) => readFileSync(file, 'utf8').includes(`"${u.login}"`));
  if (stale) {
    const users = secrets.map(({ user, secret }) => ({ ...user, passwordHash: hashPassword(secret.value) }));
    writeFileSync(file, `${JSON.stringify({ users }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return file;
}

/** Creates every secret of the stack that is missing; idempotent. */
export function ensureStackSecrets(config: Pick<StackConfig, 'dir'>): void {
  for (const p of kafkaPrincipals) kafkaSecret(config, p);
  kafkaSecret(config, KAFKA_CONTROLLER_USER);
  for (const u of Object.keys(REDIS_USERS) as RedisUser[]) redisSecret(config, u);
  pseudonymSecret(config);
  publisherAdminToken(config);
  consoleSessionSecret(config);
  consoleUsersFile(config);
}

/**
 * A SCRAM-SHA-512 credential in the salted form `kafka-storage format --add-scram` takes, so the
 * password itself never appears on a command line (RFC 5802: SaltedPassword = PBKDF2-HMAC(password, salt, i)).
 */
export function scramSha512Credential(username: string, password: string, iterations = 8192): string {
  const salt = randomBytes(32);
  const salted = pbkdf2Sync(password, salt, iterations, 64, 'sha512');
  return `SCRAM-SHA-512=[name=${username},iterations=${iterations},salt="${salt.toString('base64')}",saltedpassword="${salted.toString('base64')}"]`;
}

/** The Redis ACL file of the stack: default user off, admin with everything, each service on its prefix. */
export function redisAclFile(config: Pick<StackConfig, 'dir'>): string {
  const lines = ['user default off resetkeys resetchannels -@all'];
  for (const [user, spec] of Object.entries(REDIS_USERS) as [RedisUser, (typeof REDIS_USERS)[RedisUser]][]) {
    const { value } = redisSecret(config, user);
    const keys = spec.keys.map((k) => `~${k}`).join(' ');
    const commands =
      spec.commands === null ? '+@all' : `-@all ${spec.commands.map((c) => `+${c}`).join(' ')}`;
    lines.push(`user ${user} on >${value} resetchannels ${keys} ${commands}`.replace(/\s+/g, ' '));
  }
  const file = path.join(secretsDir(config), 'redis-users.acl');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** `redis://<user>:<password>@127.0.0.1:<port>` of a stack user. */
export function redisUrlOf(config: Pick<StackConfig, 'dir' | 'redisPort'>, user: RedisUser): string {
  return `redis://${user}:${encodeURIComponent(redisSecret(config, user).value)}@127.0.0.1:${config.redisPort}`;
}

/** A URL without its credentials, for printing. */
export function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//');
  }
}

/** MQTT_USERNAME and MQTT_PASSWORD_FILE of a stack principal (its password file created on first use). */
function mqttLogin(config: Pick<StackConfig, 'dir'>, username: string): Record<string, string> {
  ensureMqttPassword(config as StackConfig, username);
  return { MQTT_USERNAME: username, MQTT_PASSWORD_FILE: mqttPasswordFile(config as StackConfig, username) };
}

/** The environment that gives each pipeline process its own credentials (file paths, never values). */
export interface ServiceSecretEnvs {
  ingest: Record<string, string>;
  processors: Record<string, string>;
  publisher: Record<string, string>;
  replay: Record<string, string>;
  governance: Record<string, string>;
  console: Record<string, string>;
}

/**
 * Per-service credentials of the local stack: each Kafka client its principal, the processors their Redis
 * user, ingest the pseudonymisation secret, the publisher its admin token and Redis user, the replay tool
 * its Kafka and MQTT principals and the dead letters' private key; all as `<NAME>_FILE`.
 */
export function serviceSecretEnvsOf(
  config: Pick<StackConfig, 'dir' | 'externalKafka' | 'externalRedis'> &
    Partial<Pick<StackConfig, 'externalMqtt'>>,
): ServiceSecretEnvs {
  const kafka = (p: KafkaPrincipal): Record<string, string> =>
    config.externalKafka === undefined
      ? { KAFKA_SASL_USERNAME: p, KAFKA_SASL_PASSWORD_FILE: kafkaSecret(config, p).file }
      : {};
  return {
    ingest: {
      ...kafka('ingest'),
      ONDIJON_PSEUDONYM_SECRET_FILE: pseudonymSecret(config).file,
      ONDIJON_DEAD_LETTER_PUBLIC_KEY_FILE: deadLetterKeyPair(config).publicFile,
    },
    processors: {
      ...kafka('processors'),
      ...(config.externalRedis === undefined
        ? { REDIS_USERNAME: 'processors', REDIS_PASSWORD_FILE: redisSecret(config, 'processors').file }
        : {}),
    },
    publisher: {
      ...kafka('publisher'),
      PUBLISHER_ADMIN_TOKEN_FILE: publisherAdminToken(config).file,
      ...(config.externalRedis === undefined
        ? { REDIS_USERNAME: 'publisher', REDIS_PASSWORD_FILE: redisSecret(config, 'publisher').file }
        : {}),
    },
    replay: {
      ...kafka('replay'),
      // The MQTT replay principal: the only one that may publish on the replay tree (`--via mqtt`).
      ...(config.externalMqtt === undefined ? mqttLogin(config, 'replay') : {}),
      ONDIJON_PSEUDONYM_SECRET_FILE: pseudonymSecret(config).file,
      ONDIJON_DEAD_LETTER_PRIVATE_KEY_FILE: deadLetterKeyPair(config).privateFile,
    },
    governance: kafka('governance'),
    console: {
      ...kafka('console'),
      CONSOLE_SESSION_SECRET_FILE: consoleSessionSecret(config).file,
      CONSOLE_USERS_FILE: consoleUsersFile(config),
    },
  };
}
