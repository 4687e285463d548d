import { COMMUNES } from '@ondijon/contracts';
import type { DatasetMetadataInput, ReleaseNotesInput, RowInput, TableSchema } from './schemas';
import type { WriteReleaseInput } from './writer';

/** Metadata of the example dataset: street lighting energy per commune and hour. */
export const EXAMPLE_METADATA: DatasetMetadataInput = {
  title: {
    fr: 'Éclairage public : énergie par commune et par heure',
    en: 'Street lighting: energy per commune and hour',
  },
  description: {
    fr: "Énergie consommée par l'éclairage public et pannes signalées, agrégées par commune et par heure.",
    en: 'Energy used by street lighting and reported faults, aggregated per commune and hour.',
  },
  keywords: {
    fr: ['éclairage public', 'énergie', 'sobriété'],
    en: ['street lighting', 'energy', 'sobriety'],
  },
  themes: ['ENER', 'GOVE'],
  accrualPeriodicity: 'DAILY',
  temporalResolution: 'PT1H',
  contactPoint: { name: 'Dijon Métropole — open data', email: 'opendata@metropole-dijon.fr' },
  landingPage: 'https://data.metropole-dijon.fr/',
  conformsTo: [],
  provenance: 'ingest → processors (lighting-commune-hour) → publisher (policy gate) → store',
  communeField: 'commune',
  personDerived: false,
  valueFields: ['energy_kwh', 'faults'],
};

/** Table Schema of the example dataset. */
export const EXAMPLE_SCHEMA: TableSchema = {
  fields: [
    { name: 'commune', type: 'string', title: 'Code INSEE', constraints: { required: true } },
    { name: 'commune_name', type: 'string', title: 'Commune' },
    { name: 'period_start', type: 'datetime', title: 'Début de période', constraints: { required: true } },
    { name: 'period_end', type: 'datetime', title: 'Fin de période', constraints: { required: true } },
    { name: 'energy_kwh', type: 'number', title: 'Énergie (kWh)', unit: 'kWh', constraints: { minimum: 0 } },
    { name: 'faults', type: 'integer', title: 'Pannes signalées', constraints: { minimum: 0 } },
  ],
  primaryKey: ['commune', 'period_start'],
};

const STATUSES = [
  'value',
  'value',
  'value',
  'value',
  'value',
  'value',
  'value',
  'zero',
  'suppressed',
  'missing',
  'noised',
] as const;

/**
 * Deterministic example rows: `hours` hourly periods from `start` for every commune, with every
 * status represented. Used by docs, tests and the API benchmark (one year = 8 760 h × 23 = 201 480 rows).
 */
export function exampleRows(start: Date, hours: number): RowInput[] {
  const rows: RowInput[] = [];
  const t0 = start.getTime();
  for (let h = 0; h < hours; h++) {
    const s = new Date(t0 + h * 3_600_000);
    const e = new Date(t0 + (h + 1) * 3_600_000);
    COMMUNES.forEach((c, ci) => {
      const status = STATUSES[(h * 7 + ci * 3) % STATUSES.length]!;
      const v = Math.round(((ci + 1) * 13.7 + (h % 24) * 2.1) * 100) / 100;
      rows.push({
        commune: c.insee,
        commune_name: c.name,
        period_start: s,
        period_end: e,
        energy_kwh: status === 'value' || status === 'noised' ? v : status === 'zero' ? 0 : null,
        faults: status === 'value' || status === 'noised' ? (h + ci) % 4 : status === 'zero' ? 0 : null,
        status,
      });
    });
  }
  return rows;
}

/** Release notes of the example dataset for a period. */
export function exampleNotes(start: Date, hours: number): ReleaseNotesInput {
  return {
    period: { start: start.toISOString(), end: new Date(start.getTime() + hours * 3_600_000).toISOString() },
    policyRevision: 'policy-2026.1',
    thresholds: { kPersons: null, kOrganisations: 3, dominancePct: 85 },
    budget: { epsilon: 0 },
    lineage: {
      inputTopics: ['agg.s1.lighting-commune-hour.v1'],
      processor: 'lighting-commune-hour',
      processorVersion: '1.0.0',
    },
  };
}

/** A complete `writeRelease` input for the example dataset. */
export function exampleRelease(
  start: Date,
  hours: number,
  datasetId = 'eclairage-energie-commune-heure',
): WriteReleaseInput {
  return {
    datasetId,
    metadata: EXAMPLE_METADATA,
    tableSchema: EXAMPLE_SCHEMA,
    rows: exampleRows(start, hours),
    notes: exampleNotes(start, hours),
  };
}
