import type { Family } from '@ondijon/contracts';
import type { DatasetMetadataInput } from '@ondijon/opendata';
import type { Resolution } from './time';

/** Spatial level of a released row. */
export type Level = 'intersection' | 'commune' | 'metropole';

/** Where a cell sits: what margins it belongs to. */
export interface CellPlace {
  level: Level;
  /** Intersection id, commune INSEE code, or the Métropole's SIREN. */
  areaId: string;
  /** INSEE code of the commune (null for the Métropole). */
  commune: string | null;
  resolution: Resolution;
}

/** One published value column of a dataset. */
export interface ValueColumn {
  /** Field of the aggregate's `values`. */
  field: string;
  /** CSV column (snake_case). */
  column: string;
  type: 'integer' | 'number';
  title: string;
  unit?: string;
  /** Summed into the Métropole total of a time bin (counts, energy, km…); else empty in margin rows. */
  spatialSum: boolean;
  /** Summed into a day total over hours; else empty in day rows. */
  temporalSum: boolean;
  /** May be null in the aggregate (a mean with nothing to average). */
  nullable: boolean;
}

/** How the publisher turns one aggregate topic into one open-data dataset. */
export interface DatasetSpec {
  id: string;
  /** Resolution of the aggregates' windows for a group (a commune-hour is PT1H). */
  place(group: Record<string, unknown>, windowStart: Date, windowEnd: Date): CellPlace;
  /** Expected places every period (missing rows are written for those without input). */
  expectedCommunes: boolean;
  /** Resolution of expected rows. */
  baseResolutions: Resolution[];
  /**
   * Families of the equipment the data comes from. An expected commune where the registry lists
   * none of them is a structural zero: the only cells published as exact zeros (status `zero`).
   */
  equipmentFamilies: readonly Family[];
  columns: ValueColumn[];
  metadata: Omit<DatasetMetadataInput, 'valueFields' | 'personDerived'>;
}

/** Siren of Dijon Métropole: the area id of Métropole-level rows. */
export const METROPOLE_ID = '242100410';

const contact = { name: 'Dijon Métropole — open data', email: 'opendata@metropole-dijon.fr' } as const;
const provenance = (topic: string) =>
  `ingest → processors → ${topic} → publisher (anonymisation gate, policy rules) → store`;

function resolutionOf(start: Date, end: Date): Resolution {
  const ms = end.getTime() - start.getTime();
  return ms <= 900_000 ? 'PT15M' : ms <= 3_600_000 ? 'PT1H' : 'P1D';
}

const communePlace = (group: Record<string, unknown>, s: Date, e: Date): CellPlace => ({
  level: 'commune',
  areaId: String(group.commune),
  commune: String(group.commune),
  resolution: resolutionOf(s, e),
});
const scopedPlace = (group: Record<string, unknown>, s: Date, e: Date): CellPlace => ({
  level: group.scope === 'intersection' ? 'intersection' : 'commune',
  areaId: String(group.id),
  commune: String(group.commune),
  resolution: typeof group.resolution === 'string' ? (group.resolution as Resolution) : resolutionOf(s, e),
});

const sum = { spatialSum: true, temporalSum: true, nullable: false } as const;
const spatialOnly = { spatialSum: true, temporalSum: false, nullable: false } as const;
const neither = { spatialSum: false, temporalSum: false, nullable: true } as const;

/** The four open-data datasets of the policy, keyed by dataset id. */
export const DATASET_SPECS: Record<string, DatasetSpec> = {
  'lighting-commune-hour': {
    id: 'lighting-commune-hour',
    place: communePlace,
    expectedCommunes: true,
    baseResolutions: ['PT1H'],
    equipmentFamilies: ['streetlight', 'lighting-cabinet'],
    columns: [
      {
        field: 'energyKwh',
        column: 'energy_kwh',
        type: 'number',
        title: 'Énergie consommée (kWh)',
        unit: 'kWh',
        ...sum,
      },
      {
        field: 'burningHours',
        column: 'burning_hours',
        type: 'number',
        title: 'Heures de fonctionnement des luminaires',
        unit: 'h',
        ...sum,
      },
      {
        field: 'luminairesReporting',
        column: 'luminaires_reporting',
        type: 'integer',
        title: 'Luminaires ayant émis',
        ...spatialOnly,
      },
      {
        field: 'cabinetsReporting',
        column: 'cabinets_reporting',
        type: 'integer',
        title: 'Armoires ayant émis',
        ...spatialOnly,
      },
      {
        field: 'faultsLamp',
        column: 'faults_lamp',
        type: 'integer',
        title: 'Pannes de lampe signalées',
        ...sum,
      },
      {
        field: 'faultsDriver',
        column: 'faults_driver',
        type: 'integer',
        title: "Pannes d'alimentation signalées",
        ...sum,
      },
      {
        field: 'faultsCommunication',
        column: 'faults_communication',
        type: 'integer',
        title: 'Pannes de communication signalées',
        ...sum,
      },
      {
        field: 'dimmedShare',
        column: 'dimmed_share',
        type: 'number',
        title: 'Part du temps en abaissement (0–1)',
        ...neither,
      },
    ],
    metadata: {
      title: { fr: 'Éclairage public par commune et par heure', en: 'Street lighting per commune and hour' },
      description: {
        fr: "Énergie consommée, heures de fonctionnement et pannes de l'éclairage public, par commune et par heure, avec les totaux journaliers et métropolitains.",
        en: 'Street lighting energy, burning hours and faults per commune and hour, with daily and Métropole totals.',
      },
      keywords: {
        fr: ['éclairage public', 'énergie', 'sobriété'],
        en: ['street lighting', 'energy', 'sobriety'],
      },
      themes: ['ENER', 'GOVE'],
      accrualPeriodicity: 'DAILY',
      temporalResolution: 'PT1H',
      contactPoint: contact,
      conformsTo: [],
      provenance: provenance('agg.s1.lighting-commune-hour.v1'),
      communeField: 'commune',
    },
  },
  'traffic-flow': {
    id: 'traffic-flow',
    place: scopedPlace,
    expectedCommunes: false,
    baseResolutions: ['PT15M', 'PT1H'],
    equipmentFamilies: ['traffic-detector'],
    columns: [
      { field: 'intensity', column: 'intensity', type: 'integer', title: 'Véhicules comptés', ...sum },
      {
        field: 'detectorsReporting',
        column: 'detectors_reporting',
        type: 'integer',
        title: 'Boucles ayant émis',
        ...spatialOnly,
      },
      {
        field: 'occupancyPct',
        column: 'occupancy_pct',
        type: 'number',
        title: "Taux d'occupation moyen (%)",
        unit: '%',
        ...neither,
      },
      {
        field: 'averageVehicleSpeedKmh',
        column: 'average_speed_kmh',
        type: 'number',
        title: 'Vitesse moyenne (km/h)',
        unit: 'km/h',
        ...neither,
      },
    ],
    metadata: {
      title: {
        fr: "Comptages routiers (débit, taux d'occupation, vitesse moyenne)",
        en: 'Traffic counts (flow, occupancy, mean speed)',
      },
      description: {
        fr: 'Débit, taux d’occupation et vitesse moyenne par carrefour et par commune, au quart d’heure et à l’heure (modèle FIWARE TrafficFlowObserved).',
        en: 'Flow, occupancy and mean speed per intersection and commune, per 15 minutes and hour (FIWARE TrafficFlowObserved).',
      },
      keywords: { fr: ['trafic', 'comptage', 'mobilité'], en: ['traffic', 'counts', 'mobility'] },
      themes: ['TRAN'],
      accrualPeriodicity: 'DAILY',
      temporalResolution: 'PT15M',
      contactPoint: contact,
      conformsTo: [],
      provenance: provenance('agg.s1.traffic-flow.v1'),
      communeField: 'commune',
    },
  },
  'signal-status': {
    id: 'signal-status',
    place: scopedPlace,
    expectedCommunes: false,
    baseResolutions: ['PT1H'],
    equipmentFamilies: ['signal-controller'],
    columns: [
      {
        field: 'controllersReporting',
        column: 'controllers_reporting',
        type: 'integer',
        title: 'Contrôleurs ayant émis',
        ...spatialOnly,
      },
      { field: 'faultReports', column: 'fault_reports', type: 'integer', title: 'Défauts signalés', ...sum },
      {
        field: 'lampFailureReports',
        column: 'lamp_failure_reports',
        type: 'integer',
        title: 'Lampes de feux en panne signalées',
        ...sum,
      },
      {
        field: 'degradedSeconds',
        column: 'degraded_seconds',
        type: 'number',
        title: 'Durée en mode dégradé (s)',
        unit: 's',
        ...sum,
      },
    ],
    metadata: {
      title: { fr: 'État des carrefours à feux', en: 'Traffic signal status' },
      description: {
        fr: 'Défauts signalés et durée de fonctionnement dégradé des carrefours à feux, par carrefour et par commune, à l’heure.',
        en: 'Reported faults and degraded operation time of traffic signals, per intersection and commune, hourly.',
      },
      keywords: {
        fr: ['feux tricolores', 'carrefours', 'maintenance'],
        en: ['traffic signals', 'intersections', 'maintenance'],
      },
      themes: ['TRAN'],
      accrualPeriodicity: 'DAILY',
      temporalResolution: 'PT1H',
      contactPoint: contact,
      conformsTo: [],
      provenance: provenance('agg.s1.signal-status.v1'),
      communeField: 'commune',
    },
  },
  'winter-commune-day': {
    id: 'winter-commune-day',
    place: communePlace,
    expectedCommunes: true,
    baseResolutions: ['P1D'],
    // Vehicles serve the circuits of the commune they are registered in (the simulator's routes stay
    // within ~300 m of their home point); a vehicle seen elsewhere makes an ordinary cell there.
    equipmentFamilies: ['winter-vehicle', 'weather-station'],
    columns: [
      { field: 'saltKg', column: 'salt_kg', type: 'number', title: 'Sel épandu (kg)', unit: 'kg', ...sum },
      {
        field: 'kmSalting',
        column: 'km_salting',
        type: 'number',
        title: 'Kilomètres salés',
        unit: 'km',
        ...sum,
      },
      {
        field: 'kmPloughing',
        column: 'km_ploughing',
        type: 'number',
        title: 'Kilomètres raclés',
        unit: 'km',
        ...sum,
      },
      {
        field: 'kmSweeping',
        column: 'km_sweeping',
        type: 'number',
        title: 'Kilomètres balayés',
        unit: 'km',
        ...sum,
      },
      {
        field: 'kmPatrol',
        column: 'km_patrol',
        type: 'number',
        title: 'Kilomètres de patrouille',
        unit: 'km',
        ...sum,
      },
      // Summed over communes from the noised commune values (post-processing): a vehicle active in two communes counts twice.
      {
        field: 'vehiclesActive',
        column: 'vehicles_active',
        type: 'integer',
        title: 'Véhicules actifs (bruité)',
        ...sum,
      },
      {
        field: 'surfaceTempMinC',
        column: 'surface_temp_min_c',
        type: 'number',
        title: 'Température de chaussée minimale (°C)',
        unit: 'Cel',
        ...neither,
      },
      {
        field: 'surfaceTempMeanC',
        column: 'surface_temp_mean_c',
        type: 'number',
        title: 'Température de chaussée moyenne (°C)',
        unit: 'Cel',
        ...neither,
      },
      {
        field: 'stationsReporting',
        column: 'stations_reporting',
        type: 'integer',
        title: 'Stations météo routières ayant émis',
        ...sum,
      },
    ],
    metadata: {
      title: {
        fr: 'Viabilité hivernale par commune et par jour',
        en: 'Winter road service per commune and day',
      },
      description: {
        fr: 'Sel épandu, kilomètres traités et températures de chaussée par commune et par jour. Données issues de véhicules conduits par des agents : seuils, règle de dominance et bruit (Laplace discret) appliqués.',
        en: 'Salt spread, kilometres treated and road surface temperatures per commune and day. Derived from vehicles driven by agents: thresholds, dominance rule and discrete-Laplace noise applied.',
      },
      keywords: {
        fr: ['viabilité hivernale', 'salage', 'déneigement'],
        en: ['winter service', 'salting', 'snow ploughing'],
      },
      themes: ['TRAN', 'ENVI'],
      accrualPeriodicity: 'DAILY',
      temporalResolution: 'P1D',
      contactPoint: contact,
      conformsTo: [],
      provenance: provenance('agg.s2.winter-commune-day.v1'),
      communeField: 'commune',
    },
  },
};
