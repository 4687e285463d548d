import { COMMUNES } from '@ondijon/contracts';
import type { Row } from './schemas';

const CENTRES = new Map<string, [number, number]>(COMMUNES.map((c) => [c.insee, [c.lon, c.lat]]));

/** A GeoJSON (RFC 7946) point feature. */
export interface PointFeature {
  type: 'Feature';
  geometry: { type: 'Point'; coordinates: [number, number] } | null;
  properties: Row;
}

/** A GeoJSON FeatureCollection. */
export interface FeatureCollection {
  type: 'FeatureCollection';
  features: PointFeature[];
}

/**
 * One feature per row, located at the approximate centre of the row's commune ([lon, lat], WGS84,
 * RFC 7946 §3.1.1 order). A row without a known commune gets a null geometry (allowed by §3.2).
 */
export function rowsToFeatureCollection(rows: readonly Row[], communeField: string): FeatureCollection {
  return {
    type: 'FeatureCollection',
    features: rows.map((properties) => {
      const code = properties[communeField];
      const centre = typeof code === 'string' ? CENTRES.get(code) : undefined;
      return {
        type: 'Feature',
        geometry: centre ? { type: 'Point', coordinates: centre } : null,
        properties,
      };
    }),
  };
}

/**
 * Serialises a FeatureCollection one feature per line: still one JSON document, but big releases
 * stream and diff well.
 */
export function stringifyFeatureCollection(fc: FeatureCollection): string {
  if (fc.features.length === 0) return '{"type":"FeatureCollection","features":[]}\n';
  return `{"type":"FeatureCollection","features":[\n${fc.features.map((f) => JSON.stringify(f)).join(',\n')}\n]}\n`;
}
