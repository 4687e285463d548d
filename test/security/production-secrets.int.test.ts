/**
 * Secrets fail closed (issue 12, item 5): with ONDIJON_ENV=production each service refuses to start when
 * one of its secrets is missing or weak, exits 1 and says so in one sentence naming the variable (and
 * never its value). The check runs before any connection, so no broker is involved.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { serviceEntry, startService, type ServiceName } from '@ondijon/devstack';

const STRONG = 'x'.repeat(48);
const base: Record<string, string> = {
  ONDIJON_ENV: 'production',
  LOG_LEVEL: 'fatal',
  KAFKA_SASL_USERNAME: 'svc',
  KAFKA_SASL_PASSWORD: STRONG,
  KAFKA_SASL_PASSWORD_FILE: '',
  REDIS_URL: 'redis://127.0.0.1:1',
  REDIS_USERNAME: 'processors',
  REDIS_PASSWORD: STRONG,
  REDIS_PASSWORD_FILE: '',
  ONDIJON_PSEUDONYM_SECRET: STRONG,
  ONDIJON_PSEUDONYM_SECRET_FILE: '',
  ONDIJON_DEAD_LETTER_PUBLIC_KEY: generateKeyPairSync('x25519')
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString(),
  ONDIJON_DEAD_LETTER_PUBLIC_KEY_FILE: '',
  PUBLISHER_ADMIN_TOKEN: STRONG,
  PUBLISHER_ADMIN_TOKEN_FILE: '',
  // Nothing may be reached even if a check were missing: ports where nothing listens.
  KAFKA_BROKERS: '127.0.0.1:1',
  MQTT_URL: 'mqtt://127.0.0.1:1',
  HTTP_PORT: '0',
  PROBE_PORT: '0',
  PUBLISHER_PORT: '0',
};

interface Case {
  service: ServiceName;
  change: Record<string, string>;
  sentence: RegExp;
}

const missing = (service: ServiceName, variable: string): Case => ({
  service,
  change: { [variable]: '' },
  sentence: new RegExp(
    `^${variable} is not set and ONDIJON_ENV=production: set it \\(or ${variable}_FILE\\)`,
    'm',
  ),
});

const cases: Case[] = [
  missing('ingest', 'ONDIJON_PSEUDONYM_SECRET'),
  missing('ingest', 'ONDIJON_DEAD_LETTER_PUBLIC_KEY'),
  missing('ingest', 'KAFKA_SASL_USERNAME'),
  missing('ingest', 'KAFKA_SASL_PASSWORD'),
  missing('processors', 'KAFKA_SASL_USERNAME'),
  missing('processors', 'KAFKA_SASL_PASSWORD'),
  missing('processors', 'REDIS_PASSWORD'),
  missing('publisher', 'KAFKA_SASL_PASSWORD'),
  missing('publisher', 'PUBLISHER_ADMIN_TOKEN'),
  {
    service: 'ingest',
    change: { ONDIJON_PSEUDONYM_SECRET: 'short-secret' },
    sentence: /^ONDIJON_PSEUDONYM_SECRET is shorter than 32 characters and ONDIJON_ENV=production/m,
  },
  {
    service: 'ingest',
    change: { ONDIJON_PSEUDONYM_SECRET: 'ondijon-development-secret-not-for-production' },
    sentence: /^ONDIJON_PSEUDONYM_SECRET is a published development value and ONDIJON_ENV=production/m,
  },
  {
    service: 'publisher',
    change: { PUBLISHER_ADMIN_TOKEN: '', PUBLISHER_ADMIN_TOKEN_FILE: '/nonexistent/ondijon-token' },
    sentence: /PUBLISHER_ADMIN_TOKEN_FILE: cannot read \/nonexistent\/ondijon-token \(ENOENT\)/,
  },
];

describe('production mode: a missing or weak secret stops the service', () => {
  it.each(
    cases.map(
      (c) =>
        [
          c.service,
          Object.entries(c.change)
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
          c,
        ] as const,
    ),
  )('%s with %s exits 1 naming the variable', async (_service, _label, c) => {
    const lines: string[] = [];
    const handle = startService(c.service, serviceEntry(c.service), {
      env: { ...base, ...c.change },
      prefix: false,
      onLine: (line) => lines.push(line),
    });
    const exit = await handle.exited;
    const output = lines.join('\n');
    expect(exit.code, output).toBe(1);
    expect(output).toMatch(c.sentence);
    // The values of the other secrets are never printed.
    expect(output).not.toContain(STRONG);
  });
});
