import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FAMILIES, telemetrySchemas } from '@ondijon/contracts';
import { loadPolicy } from '../src/policy';
import { describeType, renderRegister } from '../src/register';

const policy = loadPolicy();

describe('register', () => {
  it('lists every field of every family with its class and action', () => {
    const md = renderRegister(policy);
    for (const family of FAMILIES) {
      expect(md).toContain(`### ${family} `);
      for (const field of Object.keys(telemetrySchemas[family].shape))
        expect(md).toMatch(new RegExp(`\\| \`${field}\` \\|`));
    }
    expect(md).toMatch(/\| `agentId` \|[^\n]*\| S3 \| drop \| — \(not stored\) \|/);
    expect(md).toContain(`revision **${policy.revision}**`);
  });

  it('docs/governance/register.md is up to date with the policy (run pnpm contracts:export)', () => {
    const path = fileURLToPath(new URL('../../../docs/governance/register.md', import.meta.url));
    expect(readFileSync(path, 'utf8')).toBe(renderRegister(policy));
  });

  it('describes types briefly', () => {
    expect(describeType(telemetrySchemas['signal-controller'].shape.plan)).toBe('int 0–255');
    expect(describeType(telemetrySchemas.streetlight.shape.state)).toBe('enum on | off | dimmed');
    expect(describeType(telemetrySchemas.streetlight.shape.presenceDetections)).toBe(
      'int 0–100000 (optional)',
    );
  });
});
