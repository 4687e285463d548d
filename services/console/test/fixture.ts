import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DeadLetter, Equipment } from '@ondijon/contracts';
import { hashPassword } from '@ondijon/service-kit';
import { type Config, ConfigSchema } from '../src/config';

/** Demo users of the tests: two operators, a supervisor, a governance officer (password = login + '-pw'). */
export const TEST_USERS = [
  { login: 'citelum', role: 'operator', operator: 'citelum' },
  { login: 'bouygues-es', role: 'operator', operator: 'bouygues-es' },
  { login: 'superviseur', role: 'supervisor' },
  { login: 'gouvernance', role: 'governance' },
] as const;

/** A folder with a users file and a small registry; the console's config over them. */
export function testSetup(registry: Equipment[]): { config: Readonly<Config>; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'console-test-'));
  const users = TEST_USERS.map((u) => ({ ...u, passwordHash: hashPassword(`${u.login}-pw`) }));
  writeFileSync(path.join(dir, 'users.json'), JSON.stringify({ users }));
  writeFileSync(path.join(dir, 'registry.json'), JSON.stringify({ revision: 'test', equipment: registry }));
  const config = ConfigSchema.parse({
    CONSOLE_USERS_FILE: path.join(dir, 'users.json'),
    REGISTRY_FILE: path.join(dir, 'registry.json'),
    CONSOLE_SESSION_SECRET: 'x'.repeat(40),
    PORT: '0',
    LOG_LEVEL: 'silent',
  });
  return { config, dir };
}

/** An equipment of the registry. */
export function equipment(id: string, family: Equipment['family'], operator: string): Equipment {
  return {
    equipmentId: id,
    family,
    operator,
    commune: '21231',
    location: { lat: 47.32, lon: 5.04 },
    commissionedOn: '2020-01-01',
    contractRef: 'C',
  };
}

/** A dead letter as ingest writes it. */
export function deadLetter(over: Partial<DeadLetter> & { payload?: string }): DeadLetter {
  const payload = over.payload ?? '{"seq":"x"}';
  const { payload: _p, ...rest } = over;
  return {
    id: `dl-${Math.random().toString(36).slice(2)}`,
    code: 'ONDIJON_SCHEMA_INVALID',
    reason: 'seq: expected number',
    issues: [{ path: 'seq', message: 'expected number', code: 'invalid_type' }],
    origin: 'mqtt',
    mqttTopic: 'ondijon/v1/lighting-cabinet/citelum/LC-1',
    payloadBase64: Buffer.from(payload).toString('base64'),
    payloadBytes: payload.length,
    payloadSha256: '0'.repeat(64),
    sensitivity: 'S3',
    receivedAt: new Date().toISOString(),
    rejectedBy: 'ingest',
    replays: 0,
    ...rest,
  };
}
