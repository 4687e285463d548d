import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isOnDijonError } from '@ondijon/contracts';
import { commonEnv, loadConfig } from '../src/index';

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
