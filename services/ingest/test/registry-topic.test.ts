import { describe, expect, it } from 'vitest';
import { createTopicIndex, type RefRecord } from '../src/registry-topic';
import { equipmentRecord } from '../src/registry';
import { makeRegistry } from './fixtures';

const [a, b] = makeRegistry('ref', 1).equipment;
const now = new Date('2026-11-28T12:00:00Z');
const record = (e: typeof a, offset: string): RefRecord => {
  const { key, value } = equipmentRecord(e!, 'rev', '0.0.0', now);
  return { partition: 0, offset, key, value: JSON.stringify(value) };
};

describe('createTopicIndex', () => {
  it('adds entries, replaces them by id, and removes them on a tombstone', () => {
    const index = createTopicIndex('ref.s0.equipment.v1');
    expect(index.apply(record(a, '0'))).toBe('upserted');
    expect(index.apply(record(b, '1'))).toBe('upserted');
    expect(index.size).toBe(2);
    expect(index.apply(record({ ...a!, contractRef: 'contract-new' }, '2'))).toBe('upserted');
    expect(index.get(a!.equipmentId)?.contractRef).toBe('contract-new');
    expect(index.apply({ partition: 0, offset: '3', key: a!.equipmentId, value: null })).toBe('removed');
    expect(index.get(a!.equipmentId)).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it('skips invalid records, reporting them with their offset, and keeps the entry it had', () => {
    const skipped: string[] = [];
    const index = createTopicIndex('t', (r, reason) => skipped.push(`${r.offset}:${reason}`));
    index.apply(record(a, '0'));
    const good = record(a, '1');
    const envelope = JSON.parse(good.value!) as { data: Record<string, unknown> };
    const bad: RefRecord[] = [
      { ...good, offset: '1', value: '{not json' },
      {
        ...good,
        offset: '2',
        value: JSON.stringify({ ...envelope, data: { ...envelope.data, family: 'toaster' } }),
      },
      { ...good, offset: '3', key: 'someone-else' },
      { ...good, offset: '4', key: null },
    ];
    for (const r of bad) expect(index.apply(r)).toBe('invalid');
    expect(skipped.map((s) => s.split(':')[0])).toEqual(['1', '2', '3', '4']);
    expect(skipped[1]).toMatch(/data\.family/);
    expect(index.get(a!.equipmentId)?.equipmentId).toBe(a!.equipmentId);
    expect(index.get('someone-else')).toBeUndefined();
  });
});
