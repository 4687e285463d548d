/** The 23 communes of Dijon Métropole (INSEE code, name, approximate centre). Centres are approximate town centres rounded to 0.001°, not official centroids. */
export const COMMUNES = [
  { insee: '21003', name: 'Ahuy', lat: 47.37, lon: 5.022 },
  { insee: '21105', name: 'Bressey-sur-Tille', lat: 47.312, lon: 5.186 },
  { insee: '21106', name: 'Bretenière', lat: 47.238, lon: 5.111 },
  { insee: '21166', name: 'Chenôve', lat: 47.293, lon: 5.006 },
  { insee: '21171', name: 'Chevigny-Saint-Sauveur', lat: 47.3, lon: 5.136 },
  { insee: '21192', name: 'Corcelles-les-Monts', lat: 47.3, lon: 4.943 },
  { insee: '21223', name: 'Daix', lat: 47.35, lon: 4.985 },
  { insee: '21231', name: 'Dijon', lat: 47.3318, lon: 5.0336 },
  { insee: '21263', name: 'Fénay', lat: 47.236, lon: 5.063 },
  { insee: '21270', name: 'Flavignerot', lat: 47.282, lon: 4.928 },
  { insee: '21278', name: 'Fontaine-lès-Dijon', lat: 47.3449, lon: 5.0253 },
  { insee: '21315', name: 'Hauteville-lès-Dijon', lat: 47.3661, lon: 4.9956 },
  { insee: '21355', name: 'Longvic', lat: 47.2886, lon: 5.0644 },
  { insee: '21370', name: 'Magny-sur-Tille', lat: 47.2767, lon: 5.1747 },
  { insee: '21390', name: 'Marsannay-la-Côte', lat: 47.2714, lon: 4.9894 },
  { insee: '21452', name: 'Neuilly-Crimolois', lat: 47.275, lon: 5.12 },
  { insee: '21473', name: 'Ouges', lat: 47.2622, lon: 5.0761 },
  { insee: '21481', name: 'Perrigny-lès-Dijon', lat: 47.2638, lon: 5.0073 },
  { insee: '21485', name: 'Plombières-lès-Dijon', lat: 47.3398, lon: 4.974 },
  { insee: '21515', name: 'Quetigny', lat: 47.3153, lon: 5.1069 },
  { insee: '21540', name: 'Saint-Apollinaire', lat: 47.3325, lon: 5.085 },
  { insee: '21605', name: 'Sennecey-lès-Dijon', lat: 47.2929, lon: 5.1054 },
  { insee: '21617', name: 'Talant', lat: 47.3372, lon: 5.0064 },
] as const;

/** INSEE code of one of the 23 communes. */
export type CommuneCode = (typeof COMMUNES)[number]['insee'];

/** INSEE codes of the 23 communes. */
export const COMMUNE_CODES = COMMUNES.map((c) => c.insee) as [CommuneCode, ...CommuneCode[]];

/** The name of a commune from its INSEE code. */
export function communeName(insee: string): string | undefined {
  return COMMUNES.find((c) => c.insee === insee)?.name;
}
