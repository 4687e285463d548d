import { COMMUNES } from '@ondijon/contracts';
import type { Agent } from './schemas';

/** Licence Ouverte / Open Licence 2.0 (Etalab), the licence of every dataset in the store. */
export const LICENCE = {
  id: 'etalab-2.0',
  title: 'Licence Ouverte / Open Licence version 2.0',
  uri: 'https://www.etalab.gouv.fr/licence-ouverte-open-licence/',
} as const;

/** Dijon Métropole, publisher and owner of every dataset (SIREN 242100410). */
export const DIJON_METROPOLE: Agent = {
  name: 'Dijon Métropole',
  siren: '242100410',
  uri: 'https://annuaire-entreprises.data.gouv.fr/entreprise/242100410',
  homepage: 'https://www.metropole-dijon.fr/',
  type: 'http://purl.org/adms/publishertype/LocalAuthority',
  email: 'opendata@metropole-dijon.fr',
};

/** Table Schema specification URI (dct:conformsTo of every CSV distribution). */
export const TABLE_SCHEMA_URI = 'https://specs.frictionlessdata.io/table-schema/';
/** GeoJSON specification (RFC 7946). */
export const GEOJSON_URI = 'https://www.rfc-editor.org/rfc/rfc7946';
/** CSV specification (RFC 4180). */
export const CSV_URI = 'https://www.rfc-editor.org/rfc/rfc4180';

/** The 23 communes as spatial coverage entries (centre [lon, lat], approximate). */
export const COMMUNE_COVERAGE = COMMUNES.map((c) => ({
  insee: c.insee,
  name: c.name,
  uri: `https://geo.api.gouv.fr/communes/${c.insee}`,
  centre: [c.lon, c.lat] as [number, number],
}));

/** Said in every dataset's metadata: the commune points are not official centroids. */
export const SPATIAL_NOTE =
  'Commune points are approximate town centres, not official centroids; ' +
  'they locate a commune-level aggregate, not an equipment. / Les points des communes sont des centres-bourgs ' +
  'approximatifs, pas des centroïdes officiels.';

/** Identifies the software that wrote a release. */
export const GENERATOR = '@ondijon/opendata 0.1.0';
