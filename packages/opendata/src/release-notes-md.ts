import type { DatasetMetadata, ReleaseNotes } from './schemas';

/** Human release notes (French first, English second), from the same facts as release-notes.json. */
export function renderReleaseNotesMarkdown(n: ReleaseNotes, m: DatasetMetadata): string {
  const thresholds = Object.entries(n.thresholds).map(([k, v]) => `| ${k} | ${String(v)} |`);
  const statuses = Object.entries(n.statusCounts).map(([k, v]) => `| ${k} | ${v} |`);
  const files = n.files.map((f) => `| ${f.name} | ${f.bytes} | \`${f.sha256}\` |`);
  return [
    `# ${m.title.fr} — ${n.releaseId}`,
    '',
    `*${m.title.en}*`,
    '',
    `- Période / period: ${n.period.start} → ${n.period.end}`,
    `- Publiée le / published: ${n.publishedAt} (version ${n.sequence})`,
    `- Révision de la politique / policy revision: ${n.policyRevision}`,
    `- Lignes / rows: ${n.rowCount}`,
    `- Cellules masquées / suppressed cells: ${n.suppressedCells}${n.secondarySuppressedCells !== undefined ? ` (dont secondaires / of which secondary: ${n.secondarySuppressedCells})` : ''}`,
    `- Cellules bruitées / noised cells: ${n.noisedCells}`,
    `- Budget de confidentialité dépensé / privacy budget spent: ε = ${n.budget.epsilon}${n.budget.period ? ` (${n.budget.period}${n.budget.cumulativeEpsilon !== undefined ? `, cumulé / cumulative ${n.budget.cumulativeEpsilon}` : ''})` : ''}`,
    n.supersedes ? `- Remplace / supersedes: ${n.supersedes}` : '',
    n.comment ? `\n${n.comment.fr}\n\n${n.comment.en}\n` : '',
    `- Licence: [${m.licence.title}](${m.licence.uri}) — ${m.publisher.name} (SIREN ${m.publisher.siren})`,
    '',
    '## Seuils appliqués / thresholds applied',
    '',
    '| rule | value |',
    '|---|---|',
    ...thresholds,
    '',
    '## Statuts / statuses',
    '',
    '| status | rows |',
    '|---|---|',
    ...statuses,
    '',
    '## Fichiers / files (SHA-256)',
    '',
    '| file | bytes | sha256 |',
    '|---|---|---|',
    ...files,
    '',
    '## Lignée / lineage',
    '',
    '```json',
    JSON.stringify(n.lineage, null, 2),
    '```',
    '',
  ]
    .filter((l, i, a) => !(l === '' && a[i - 1] === ''))
    .join('\n');
}
