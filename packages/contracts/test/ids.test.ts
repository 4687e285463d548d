import { createHash } from 'node:crypto';
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

/** The first derivation (createHash over the name, version and variant bits set on the bytes). */
function referenceUuidFromName(name: string): string {
  const h = createHash('sha1').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

describe('uuidFromName', () => {
  it('is the first derivation, for every variant digit and odd ids', () => {
    const variants = new Set<string>();
    for (let seq = 0; seq < 2_000; seq += 1) {
      for (const equipmentId of ['SL-21231-0001', 'x', 'Équipement-é', `W-${seq}`]) {
        const id = eventId(equipmentId, seq * 7919);
        expect(id).toBe(referenceUuidFromName(`ondijon:event:${equipmentId}:${seq * 7919}`));
        variants.add(id[19]!);
      }
    }
    expect([...variants].sort()).toEqual(['8', '9', 'a', 'b']);
  });
});
