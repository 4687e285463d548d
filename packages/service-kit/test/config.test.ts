import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isOnDijonError } from '@ondijon/contracts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commonEnv,
  createLogger,
  kafkaSecurityEnv,
  kafkaSecurityOf,
  loadConfig,
  requireSecrets,
} from '../src/index';

describe('loadConfig', () => {
  const schema = z.object({
    ...commonEnv,
    PORT: z.coerce.number().int().min(1).max(65535),
    DRY_RUN: z.stringbool().default(false),
  });

  it('parses defaults and freezes the result', () => {
    const cfg = loadConfig(schema, { PORT: '8080' });
    expect(cfg.KAFKA_BROKERS).toEqual(['127.0.0.1:19092']);
    expect(cfg.DRY_RUN).toBe(false);
    expect(Object.isFrozen(cfg)).toBe(true);
  });

  it('reads "false" as false, not as a truthy string', () => {
    expect(loadConfig(schema, { PORT: '1', DRY_RUN: 'false' }).DRY_RUN).toBe(false);
    expect(loadConfig(schema, { PORT: '1', DRY_RUN: 'true' }).DRY_RUN).toBe(true);
  });

  it('reports every invalid variable at once, by name', () => {
    try {
      loadConfig(schema, { PORT: 'x', LOG_LEVEL: 'loud', DRY_RUN: 'maybe' });
      expect.unreachable();
    } catch (err) {
      expect(isOnDijonError(err, 'ONDIJON_CONFIG_INVALID')).toBe(true);
      const msg = (err as Error).message;
      expect(msg).toContain('PORT');
      expect(msg).toContain('LOG_LEVEL');
      expect(msg).toContain('DRY_RUN');
    }
  });
});

describe('<NAME>_FILE and secrets in production', () => {
  const schema = z.object({ ...commonEnv, ...kafkaSecurityEnv, TOKEN: z.string().optional() });
  const dir = mkdtempSync(join(tmpdir(), 'service-kit-secrets-'));
  const file = join(dir, 'password');
  writeFileSync(file, 'from-the-file\n');

  it('reads <NAME>_FILE when <NAME> is unset, dropping one trailing newline; <NAME> wins when set', () => {
    expect(loadConfig(schema, { KAFKA_SASL_PASSWORD_FILE: file }).KAFKA_SASL_PASSWORD).toBe('from-the-file');
    expect(
      loadConfig(schema, { KAFKA_SASL_PASSWORD: 'direct', KAFKA_SASL_PASSWORD_FILE: file })
        .KAFKA_SASL_PASSWORD,
    ).toBe('direct');
  });

  it('names <NAME>_FILE when the file cannot be read', () => {
    expect(() => loadConfig(schema, { TOKEN_FILE: join(dir, 'missing') })).toThrow(
      /TOKEN_FILE: cannot read .* \(ENOENT\)/,
    );
  });

  it('fails closed in production only, naming the variable and never its value', () => {
    const weak = [{ name: 'TOKEN', value: 'short-value', minLength: 32 }];
    expect(() => requireSecrets('development', weak)).not.toThrow();
    expect(() => requireSecrets('production', weak)).toThrow(
      'TOKEN is shorter than 32 characters and ONDIJON_ENV=production: set it (or TOKEN_FILE) to a secret of at least 32 characters before starting.',
    );
    try {
      requireSecrets('production', weak);
    } catch (error) {
      expect(isOnDijonError(error, 'ONDIJON_SECRET_MISSING')).toBe(true);
      expect((error as Error).message).not.toContain('short-value');
    }
    expect(() => requireSecrets('production', [{ name: 'X', value: undefined }])).toThrow(/^X is not set/);
    expect(() =>
      requireSecrets('production', [{ name: 'X', value: 'a'.repeat(20), forbidden: ['a'.repeat(20)] }]),
    ).toThrow(/^X is a published development value/);
  });

  it('maps Kafka settings to createKafka security, deferring to the env when none is set', () => {
    expect(kafkaSecurityOf(loadConfig(schema, {}))).toBeUndefined();
    expect(
      kafkaSecurityOf(loadConfig(schema, { KAFKA_SASL_USERNAME: 'ingest', KAFKA_SASL_PASSWORD_FILE: file })),
    ).toEqual({
      sasl: { username: 'ingest', password: 'from-the-file', mechanism: 'scram-sha-512' },
    });
  });
});

describe('logger redaction', () => {
  it('never writes a secret field', () => {
    const lines: string[] = [];
    const log = createLogger('t', 'info', {
      write: (l: string) => lines.push(l),
    } as unknown as NodeJS.WritableStream);
    log.info(
      {
        sasl: { password: 'p1' },
        password: 'p2',
        config: { KAFKA_SASL_PASSWORD: 'p3', REDIS_URL: 'redis://a:p4@h' },
        headers: { authorization: 'Bearer p5' },
      },
      'x',
    );
    for (const secret of ['p1', 'p2', 'p3', 'p4', 'p5']) expect(lines.join('')).not.toContain(secret);
  });
});
