import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  COMMUNE_CODES,
  EquipmentRegistryFile,
  OPERATORS,
  generateRegistry,
  isOnDijonError,
  loadRegistryFile,
  registryIndex,
} from '../src/index';

describe('generateRegistry', () => {
  const small = generateRegistry({ seed: 7, scale: 'small' });

  it('is deterministic from the seed', () => {
    expect(JSON.stringify(generateRegistry({ seed: 7, scale: 'small' }))).toBe(JSON.stringify(small));
    expect(JSON.stringify(generateRegistry({ seed: 8, scale: 'small' }))).not.toBe(JSON.stringify(small));
  });

  it('is valid, laptop-sized, with unique ids, over the 23 communes', () => {
    expect(EquipmentRegistryFile.safeParse(small).success).toBe(true);
    expect(small.equipment.length).toBeGreaterThanOrEqual(300);
    expect(small.equipment.length).toBeLessThanOrEqual(600);
    expect(registryIndex(small).size).toBe(small.equipment.length);
    expect(new Set(small.equipment.map((e) => e.commune))).toEqual(new Set(COMMUNE_CODES));
  });

  it('groups luminaires by an existing cabinet, detectors and controllers by intersection', () => {
    const index = registryIndex(small);
    const lights = small.equipment.filter((e) => e.family === 'streetlight');
    for (const l of lights) {
      const cab = index.get(l.cabinetId!);
      expect(cab?.family).toBe('lighting-cabinet');
      expect(cab?.commune).toBe(l.commune);
    }
    const controllers = new Set(
      small.equipment.filter((e) => e.family === 'signal-controller').map((e) => e.intersectionId),
    );
    for (const d of small.equipment.filter((e) => e.family === 'traffic-detector')) {
      expect(controllers.has(d.intersectionId)).toBe(true);
      expect(d.lanes).toBeGreaterThanOrEqual(1);
    }
  });

  it('gives operators and contracts by family, with at least three organisations', () => {
    const opOf = (f: string) => new Set(small.equipment.filter((e) => e.family === f).map((e) => e.operator));
    expect(opOf('streetlight')).toEqual(new Set(['citelum']));
    expect(opOf('signal-controller')).toEqual(new Set(['bouygues-es']));
    expect(opOf('winter-vehicle')).toEqual(new Set(['dijon-metropole', 'eiffage-route']));
    expect(new Set(small.equipment.map((e) => e.operator)).size).toBeGreaterThanOrEqual(3);
    for (const e of small.equipment)
      expect(e.contractRef).toBe(OPERATORS[e.operator as keyof typeof OPERATORS].contractRef);
  });

  it('gives each winter vehicle a home commune and a route near it', () => {
    for (const v of small.equipment.filter((e) => e.family === 'winter-vehicle')) {
      expect(v.route!.length).toBeGreaterThanOrEqual(6);
      expect(v.routeId).toMatch(new RegExp(`^R-${v.commune}-`));
      for (const p of v.route!) {
        expect(Math.abs(p.lat - v.location.lat)).toBeLessThan(0.05);
        expect(Math.abs(p.lon - v.location.lon)).toBeLessThan(0.08);
      }
    }
  });

  it('honours custom counts and the city preset', () => {
    const custom = generateRegistry({
      seed: 1,
      scale: { cabinets: 23, luminairesPerCabinet: 1, intersections: 0, vehicles: 0, weatherStations: 0 },
    });
    expect(custom.equipment.length).toBe(46);
    const city = generateRegistry({ seed: 1, scale: 'city' });
    expect(city.equipment.filter((e) => e.family === 'streetlight').length).toBe(8000);
  });
});

describe('registry files', () => {
  it('the committed default loads', () => {
    const path = fileURLToPath(new URL('../../../infra/registry/equipment.json', import.meta.url));
    const file = loadRegistryFile(path);
    expect(file.equipment.length).toBeGreaterThan(300);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(
      generateRegistry({ seed: 20261128, scale: 'small' }),
    );
  });

  it('rejects an invalid file naming the entry, and duplicate ids', () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    const file = generateRegistry({
      seed: 2,
      scale: { cabinets: 23, luminairesPerCabinet: 0, intersections: 0, vehicles: 0, weatherStations: 0 },
    });
    const bad = structuredClone(file);
    bad.equipment[3]!.commune = 'Dijon';
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    expect(() => loadRegistryFile(join(dir, 'bad.json'))).toThrow(/equipment\.3\.commune/);
    const dup = structuredClone(file);
    dup.equipment.push(dup.equipment[0]!);
    writeFileSync(join(dir, 'dup.json'), JSON.stringify(dup));
    try {
      loadRegistryFile(join(dir, 'dup.json'));
      expect.unreachable();
    } catch (err) {
      expect(isOnDijonError(err, 'ONDIJON_REGISTRY_INVALID')).toBe(true);
      expect(String(err)).toMatch(/duplicate equipment id LC-/);
    }
    expect(() => loadRegistryFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
