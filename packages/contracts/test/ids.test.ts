import { describe, expect, it } from 'vitest';
import { eventId, uuidFromName } from '../src/index';

describe('eventId', () => {
  it('is deterministic from equipment id and device sequence', () => {
    expect(eventId('SL-21231-0001', 42)).toBe(eventId('SL-21231-0001', 42));
    // Pinned: changing the derivation would break deduplication of records already on Kafka.
    expect(eventId('SL-21231-0001', 42)).toBe(uuidFromName('ondijon:event:SL-21231-0001:42'));
  });

  it('differs when either part differs', () => {
    const ids = new Set([eventId('SL-1', 1), eventId('SL-1', 2), eventId('SL-2', 1), eventId('SL-11', 1)]);
    expect(ids.size).toBe(4);
    // No ambiguity from concatenation: (SL-1, 11) is not (SL-11, 1).
    expect(eventId('SL-1', 11)).not.toBe(eventId('SL-11', 1));
  });

  it('is a version-5-layout UUID', () => {
    expect(eventId('SL-1', 0)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
