import { describe, expect, it } from 'vitest';
import { Lineage } from '@ondijon/contracts';
import { derivedLineage, ingestLineage } from '../src/lineage';

describe('lineage helpers', () => {
  it('build lineage that the contracts accept', () => {
    const a = ingestLineage('ingest', '0.1.0', { agentId: 'drop', seq: 'keep' });
    expect(Lineage.parse(a)).toEqual(a);
    const b = derivedLineage({
      inputs: ['tel.s2.winter.v1', 'tel.s1.winter.v1', 'tel.s2.winter.v1'],
      producer: 'winter-commune-day',
      producerVersion: '1',
      window: { start: '2026-01-15T00:00:00Z', end: '2026-01-16T00:00:00Z' },
    });
    expect(b.inputs).toEqual(['tel.s1.winter.v1', 'tel.s2.winter.v1']);
    expect(Lineage.parse(b)).toEqual(b);
  });
});
