// The open-data and governance page (issue 15, item 4): releases per dataset with their suppressed and
// noised cell counts, privacy budget (ε) spent per day, and the policy revision in force. Read from the
// open-data store the publisher writes (never from Kafka) and from the policy file.
import { openStoreReader, type StoreReader } from '@ondijon/opendata';
import { STRINGS } from './i18n';
import { esc, layout, type PageContext } from './pages';

/** One release as the page shows it. */
export interface GovernanceRelease {
  releaseId: string;
  publishedAt: string;
  periodStart: string;
  rowCount: number;
  suppressedCells: number;
  noisedCells: number;
  epsilon: number;
  policyRevision: string;
}

/** What the governance page shows. */
export interface GovernanceView {
  policyRevision: string;
  datasets: { id: string; releases: GovernanceRelease[] }[];
  /** ε spent per day (the release's budget period, else its publication day), all datasets. */
  epsilonPerDay: Record<string, number>;
}

/** Reads the store's catalogue and the notes of the latest `perDataset` releases of each dataset. */
export async function governanceView(
  reader: StoreReader,
  policyRevision: string,
  perDataset = 30,
): Promise<GovernanceView> {
  const datasets: GovernanceView['datasets'] = [];
  const epsilonPerDay: Record<string, number> = {};
  const { catalog } = await reader.catalog();
  for (const id of Object.keys(catalog.datasets).sort()) {
    const releases: GovernanceRelease[] = [];
    for (const r of (await reader.releases(id)).slice(-perDataset).reverse()) {
      const notes = await reader.releaseNotes(id, r.releaseId);
      releases.push({
        releaseId: r.releaseId,
        publishedAt: notes.publishedAt,
        periodStart: notes.period.start,
        rowCount: notes.rowCount,
        suppressedCells: notes.suppressedCells,
        noisedCells: notes.noisedCells,
        epsilon: notes.budget.epsilon,
        policyRevision: notes.policyRevision,
      });
      const day = notes.budget.period ?? notes.publishedAt.slice(0, 10);
      epsilonPerDay[day] = (epsilonPerDay[day] ?? 0) + notes.budget.epsilon;
    }
    datasets.push({ id, releases });
  }
  return { policyRevision, datasets, epsilonPerDay };
}

/** A reader of the store, or undefined when the folder cannot be opened. */
export function storeReader(dir: string): StoreReader {
  return openStoreReader(dir);
}

/** The governance page (server-rendered: no script needed). */
export function governancePage(ctx: PageContext, view: GovernanceView | { error: string }): string {
  const t = STRINGS[ctx.lang];
  if ('error' in view)
    return layout(ctx, t.governanceTitle, `<p>${esc(t.noStore)}</p>`, { nav: 'governance' });
  const days = Object.keys(view.epsilonPerDay).sort().reverse();
  const body = `<p>${esc(t.policyInForce)} : <strong>${esc(view.policyRevision)}</strong></p>
<section aria-labelledby="eps-h"><h2 id="eps-h">${esc(t.epsilonPerDay)}</h2>
${
  days.length === 0
    ? `<p>${esc(t.noRelease)}</p>`
    : `<table><thead><tr><th scope="col">${esc(t.day)}</th><th scope="col">ε</th></tr></thead><tbody>${days
        .map((d) => `<tr><td>${esc(d)}</td><td>${esc(view.epsilonPerDay[d]!.toFixed(3))}</td></tr>`)
        .join('')}</tbody></table>`
}</section>
${
  view.datasets.length === 0
    ? `<p>${esc(t.noRelease)}</p>`
    : view.datasets
        .map(
          (d) => `<section aria-labelledby="ds-${esc(d.id)}"><h2 id="ds-${esc(d.id)}">${esc(d.id)}</h2>
<table><thead><tr><th scope="col">${esc(t.release)}</th><th scope="col">${esc(t.publishedAt)}</th><th scope="col">${esc(t.period)}</th><th scope="col">${esc(t.rows)}</th><th scope="col">${esc(t.suppressed)}</th><th scope="col">${esc(t.noised)}</th><th scope="col">ε</th><th scope="col">${esc(t.policy)}</th></tr></thead><tbody>${d.releases
            .map(
              (r) =>
                `<tr><td>${esc(r.releaseId)}</td><td>${esc(r.publishedAt)}</td><td>${esc(r.periodStart.slice(0, 10))}</td><td>${r.rowCount}</td><td>${r.suppressedCells}</td><td>${r.noisedCells}</td><td>${esc(r.epsilon)}</td><td>${esc(r.policyRevision)}</td></tr>`,
            )
            .join('')}</tbody></table></section>`,
        )
        .join('\n')
}`;
  return layout(ctx, t.governanceTitle, body, { nav: 'governance' });
}
