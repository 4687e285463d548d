// Server-rendered shells of the pages: the layout, navigation and forms. The live parts (tables, map,
// charts) are drawn in the browser by public/*.js from the JSON and SSE endpoints, with Leaflet and uPlot.
import { type Lang, STRINGS, type Strings, fill } from './i18n';
import type { PipelineView } from './pipeline';
import type { SessionUser } from './users';

/** HTML-escapes text. */
export function esc(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** What every page needs. */
export interface PageContext {
  lang: Lang;
  user?: SessionUser;
  csrf: string;
  /** The current path with its query, for the language links. */
  path: string;
}

function roleText(t: Strings, user: SessionUser): string {
  return fill(t[`role_${user.role}`], { operator: user.operator ?? '' });
}

function langLink(ctx: PageContext, lang: Lang, label: string): string {
  const url = new URL(ctx.path, 'http://x');
  url.searchParams.set('lang', lang);
  return ctx.lang === lang
    ? `<span aria-current="true">${label}</span>`
    : `<a href="${esc(url.pathname + url.search)}" lang="${lang}" hreflang="${lang}">${label}</a>`;
}

/** The layout around a page's content. */
export function layout(
  ctx: PageContext,
  title: string,
  body: string,
  options: { scripts?: string[]; styles?: string[]; config?: unknown; nav?: string } = {},
): string {
  const t = STRINGS[ctx.lang];
  const nav = ctx.user
    ? `<nav aria-label="${esc(t.appName)}"><ul>
        <li><a href="/"${options.nav === 'overview' ? ' aria-current="page"' : ''}>${esc(t.navOverview)}</a></li>
        <li><a href="/equipment"${options.nav === 'equipment' ? ' aria-current="page"' : ''}>${esc(t.navEquipment)}</a></li>
        <li><a href="/rejections"${options.nav === 'rejections' ? ' aria-current="page"' : ''}>${esc(t.navRejections)}</a></li>${
          ctx.user.role === 'operator'
            ? ''
            : `<li><a href="/governance"${options.nav === 'governance' ? ' aria-current="page"' : ''}>${esc(t.navGovernance)}</a></li>`
        }
      </ul></nav>
      <div class="user"><span>${esc(fill(t.signedInAs, { login: ctx.user.login, role: roleText(t, ctx.user) }))}</span>
        <form method="post" action="/logout"><input type="hidden" name="_csrf" value="${esc(ctx.csrf)}"><button type="submit">${esc(t.logout)}</button></form></div>`
    : '';
  const config =
    options.config === undefined
      ? ''
      : `<script type="application/json" id="console-config">${JSON.stringify(options.config).replace(/</g, '\\u003c')}</script>`;
  return `<!doctype html>
<html lang="${ctx.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${esc(ctx.csrf)}">
<title>${esc(title)} — ${esc(t.appName)}</title>
<link rel="stylesheet" href="/static/console.css">
${(options.styles ?? []).map((s) => `<link rel="stylesheet" href="${esc(s)}">`).join('\n')}
</head>
<body>
<a class="skip" href="#main">${esc(t.skip)}</a>
<header>
  <p class="brand">${esc(t.appName)}</p>
  ${nav}
  <p class="lang">${esc(t.language)} : ${langLink(ctx, 'fr', 'Français')} · ${langLink(ctx, 'en', 'English')}</p>
</header>
<main id="main">
<h1>${esc(title)}</h1>
${body}
</main>
${config}
${(options.scripts ?? []).map((s) => `<script src="${esc(s)}"></script>`).join('\n')}
</body>
</html>`;
}

/** The sign-in page. */
export function loginPage(
  ctx: PageContext,
  failed: boolean | 'limited' | 'sso-failed' | 'sso-no-role' | 'sso-unavailable',
  options: { sso?: boolean; next?: string } = {},
): string {
  const t = STRINGS[ctx.lang];
  const message =
    failed === 'limited'
      ? t.loginLimited
      : failed === 'sso-failed'
        ? t.loginSsoFailed
        : failed === 'sso-no-role'
          ? t.loginSsoNoRole
          : failed === 'sso-unavailable'
            ? t.loginSsoUnavailable
            : failed
              ? t.loginFailed
              : null;
  // The single sign-on, when configured, is a plain link: the redirect to the provider is a navigation.
  const sso = options.sso
    ? `<p class="sso"><a id="sso" href="/auth/oidc/login${options.next ? `?next=${encodeURIComponent(options.next)}` : ''}">${esc(t.loginSso)}</a></p>`
    : '';
  return layout(
    ctx,
    t.loginTitle,
    `${message ? `<p class="error" role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/login" class="login">
  <input type="hidden" name="_csrf" value="${esc(ctx.csrf)}">
  <p><label for="login">${esc(t.loginUser)}</label><input id="login" name="login" autocomplete="username" required></p>
  <p><label for="password">${esc(t.loginPassword)}</label><input id="password" name="password" type="password" autocomplete="current-password" required></p>
  <p><button type="submit">${esc(t.loginSubmit)}</button></p>
</form>
${sso}`,
  );
}

/**
 * After the single sign-on's callback: a same-site navigation to the page asked for. A redirect would
 * still count as part of the provider's cross-site navigation, and the SameSite=Strict session cookie
 * would not be sent with it (a 303 instead lands on /login: services/console/test/console-oidc.int.test.ts
 * fails that way).
 */
export function continuePage(ctx: PageContext, next: string): string {
  const t = STRINGS[ctx.lang];
  return `<!doctype html><html lang="${ctx.lang}"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${esc(next)}"><title>${esc(t.loginTitle)}</title></head><body><main><p><a href="${esc(next)}">${esc(t.loginContinue)}</a></p></main></body></html>`;
}

/** The 403 page. */
export function forbiddenPage(ctx: PageContext): string {
  const t = STRINGS[ctx.lang];
  return layout(ctx, t.forbiddenTitle, `<p>${esc(t.forbiddenText)}</p>`);
}

function select(id: string, label: string, options: [string, string][], allLabel: string): string {
  return `<p><label for="${id}">${esc(label)}</label>
<select id="${id}"><option value="">${esc(allLabel)}</option>${options
    .map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`)
    .join('')}</select></p>`;
}

/** The equipment page: filters, map, alerts and table (filled by public/equipment.js). */
export function equipmentPage(
  ctx: PageContext,
  data: {
    operator: string | undefined;
    operators: string[];
    communes: [string, string][];
    families: string[];
    tileUrl?: string | undefined;
    tileAttribution: string;
  },
): string {
  const t = STRINGS[ctx.lang];
  const isOperator = ctx.user?.role === 'operator';
  const filters = `<form class="filters" aria-label="${esc(t.filters)}" onsubmit="return false">
${select('f-commune', t.commune, data.communes, t.all)}
${select(
  'f-family',
  t.family,
  data.families.map((f) => [f, f]),
  t.all,
)}
${
  isOperator
    ? ''
    : select(
        'f-operator',
        t.operator,
        data.operators.map((o) => [o, o]),
        t.all,
      )
}
${select(
  'f-state',
  t.state,
  (['ok', 'alert', 'waiting', 'unfollowed'] as const).map((s) => [s, t[`status_${s}`]]),
  t.all,
)}
</form>`;
  return layout(
    ctx,
    t.equipmentTitle + (data.operator ? ` — ${data.operator}` : ''),
    `${filters}
<p class="live" id="live" role="status">${esc(t.live)}</p>
<div class="columns">
  <section aria-labelledby="alerts-h" class="alerts"><h2 id="alerts-h">${esc(t.alerts)} (<span id="alert-count">0</span>)</h2>
    <ul id="alerts" aria-live="polite"></ul></section>
  <section aria-labelledby="map-h" class="map-section"><h2 id="map-h">${esc(t.map)}</h2><div id="map" aria-label="${esc(t.map)}"></div></section>
</div>
<section aria-labelledby="table-h"><h2 id="table-h">${esc(t.equipmentTitle)} <span id="shown"></span></h2>
<table id="equipment"><thead><tr><th scope="col">${esc(t.equipmentId)}</th><th scope="col">${esc(t.family)}</th><th scope="col">${esc(t.operator)}</th><th scope="col">${esc(t.commune)}</th><th scope="col">${esc(t.lastSeen)}</th><th scope="col">${esc(t.state)}</th><th scope="col">${esc(t.detail)}</th></tr></thead><tbody></tbody></table>
</section>`,
    {
      nav: 'equipment',
      styles: ['/vendor/leaflet/leaflet.css'],
      scripts: ['/vendor/leaflet/leaflet.js', '/static/common.js', '/static/equipment.js'],
      config: {
        lang: ctx.lang,
        t,
        operator: data.operator ?? '',
        tileUrl: data.tileUrl ?? null,
        tileAttribution: data.tileAttribution,
      },
    },
  );
}

/** The rejections page (filled by public/rejections.js). */
export function rejectionsPage(
  ctx: PageContext,
  data: { operator: string | undefined; codes: string[]; canReplay: boolean },
): string {
  const t = STRINGS[ctx.lang];
  return layout(
    ctx,
    t.rejectionsTitle + (data.operator ? ` — ${data.operator}` : ''),
    `<form class="filters" aria-label="${esc(t.filters)}" onsubmit="return false">${select(
      'f-code',
      t.code,
      data.codes.map((c) => [c, c]),
      t.all,
    )}${data.canReplay ? `<p><button type="button" id="replay-code" disabled>${esc(t.replayCode)}</button></p>` : ''}</form>
<p class="live" id="live" role="status">${esc(t.live)}</p>
<p id="replay-result" role="status" aria-live="polite"></p>
<section aria-labelledby="counts-h"><h2 id="counts-h">${esc(t.countsByCode)}</h2><ul id="counts"></ul></section>
<section aria-labelledby="list-h"><h2 id="list-h">${esc(t.rejectionsTitle)} <span id="shown"></span></h2>
<table id="rejections"><thead><tr><th scope="col">${esc(t.receivedAt)}</th><th scope="col">${esc(t.operator)}</th><th scope="col">${esc(t.equipmentId)}</th><th scope="col">${esc(t.code)}</th><th scope="col">${esc(t.source)}</th><th scope="col">${esc(t.reason)}</th><th scope="col">${esc(t.fields)}</th><th scope="col">${esc(t.payload)}</th><th scope="col"><span class="sr-only">${esc(t.replay)}</span></th></tr></thead><tbody></tbody></table></section>`,
    {
      nav: 'rejections',
      scripts: ['/static/common.js', '/static/rejections.js'],
      config: {
        lang: ctx.lang,
        t,
        operator: data.operator ?? '',
        canReveal: ctx.user?.role === 'governance',
        canReplay: data.canReplay,
      },
    },
  );
}

/** The overview page (filled by public/overview.js with uPlot). */
export function overviewPage(
  ctx: PageContext,
  data: { operator: string | undefined; pipeline?: boolean },
): string {
  const t = STRINGS[ctx.lang];
  // The pipeline's health (supervisor, governance): filled by overview.js from /api/pipeline; each figure
  // links to its detail on /pipeline (latency, lag) or /governance (a dataset's releases).
  const pipeline = data.pipeline
    ? `<section aria-labelledby="pipe-h" id="pipeline"><h2 id="pipe-h"><a href="/pipeline">${esc(t.pipelineTitle)}</a></h2>
<p id="pipe-unavailable" role="status"></p>
<div class="columns">
<table id="latency"><caption><a href="/pipeline#latency">${esc(t.latencyTitle)}</a></caption><thead><tr><th scope="col">p50</th><th scope="col">p99</th><th scope="col">${esc(t.period)}</th></tr></thead><tbody><tr><td id="lat-p50">—</td><td id="lat-p99">—</td><td id="lat-window">—</td></tr></tbody></table>
<table id="lag"><caption><a href="/pipeline#lag">${esc(t.lagTitle)}</a></caption><thead><tr><th scope="col">${esc(t.processor)}</th><th scope="col">${esc(t.recordsBehind)}</th><th scope="col">${esc(t.watermark)}</th><th scope="col">${esc(t.watermarkBehind)}</th></tr></thead><tbody></tbody></table>
</div>
<table id="releases"><caption><a href="/governance">${esc(t.lastReleases)}</a></caption><thead><tr><th scope="col">${esc(t.dataset)}</th><th scope="col">${esc(t.release)}</th><th scope="col">${esc(t.publishedAt)}</th><th scope="col">${esc(t.rows)}</th><th scope="col">${esc(t.suppressed)}</th><th scope="col">${esc(t.noised)}</th></tr></thead><tbody></tbody></table>
</section>`
    : '';
  return layout(
    ctx,
    t.overviewTitle + (data.operator ? ` — ${data.operator}` : ''),
    `<p class="live" id="live" role="status">${esc(t.live)}</p>
<section aria-labelledby="fam-h"><h2 id="fam-h"><a href="/equipment">${esc(t.ratesByFamily)}</a></h2><div id="chart-family" class="chart"></div></section>
<section aria-labelledby="op-h"><h2 id="op-h"><a href="/equipment">${esc(t.ratesByOperator)}</a></h2><div id="chart-operator" class="chart"></div>
<table id="current"><caption>${esc(t.currentRates)}</caption><thead><tr><th scope="col">${esc(t.operator)}</th><th scope="col">${esc(t.msgPerS)}</th></tr></thead><tbody></tbody></table></section>
<section aria-labelledby="dlq-h"><h2 id="dlq-h"><a href="/rejections">${esc(t.deadLettersPerMinute)}</a></h2><div id="chart-dlq" class="chart"></div></section>
${pipeline}`,
    {
      nav: 'overview',
      styles: ['/vendor/uplot/uPlot.min.css'],
      scripts: ['/vendor/uplot/uPlot.iife.min.js', '/static/common.js', '/static/overview.js'],
      config: { lang: ctx.lang, t, operator: data.operator ?? '', pipeline: data.pipeline === true },
    },
  );
}

/** Seconds shown in ms below one second. */
function secondsText(s: number | null): string {
  if (s === null) return '—';
  return s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms` : `${s.toFixed(2)} s`;
}

/** The pipeline's detail (server-rendered): latency, lag per processor and partition, last releases. */
export function pipelinePage(ctx: PageContext, view: PipelineView): string {
  const t = STRINGS[ctx.lang];
  const lat = view.latency;
  const body = `${view.unavailable.length ? `<p role="status">${esc(fill(t.unavailable, { what: view.unavailable.join(', ') }))}</p>` : ''}
<section aria-labelledby="latency"><h2 id="latency">${esc(t.latencyTitle)}</h2>
${
  lat === null
    ? `<p>${esc(t.noFigure)}</p>`
    : `<p>p50 <strong>${esc(secondsText(lat.p50))}</strong> · p99 <strong>${esc(secondsText(lat.p99))}</strong> (${esc(fill(t.latencyWindow, { s: String(lat.windowS), n: String(lat.count) }))})</p>`
}</section>
<section aria-labelledby="lag"><h2 id="lag">${esc(t.lagTitle)}</h2>
${
  view.lag === null || view.lag.length === 0
    ? `<p>${esc(t.noFigure)}</p>`
    : `<table id="watermarks"><thead><tr><th scope="col">${esc(t.processor)}</th><th scope="col">${esc(t.recordsBehind)}</th><th scope="col">${esc(t.watermark)}</th><th scope="col">${esc(t.watermarkBehind)}</th></tr></thead><tbody>${view.lag
        .map(
          (l) =>
            `<tr id="wm-${esc(l.processor)}"><td><a href="#lag-${esc(l.processor)}">${esc(l.processor)}</a></td><td>${l.records}</td><td>${l.watermark === null ? '—' : `<time datetime="${esc(l.watermark)}">${esc(l.watermark)}</time>`}</td><td>${l.watermarkBehindS ?? '—'}</td></tr>`,
        )
        .join('')}</tbody></table>\n` +
      view.lag
        .filter((l) => l.partitions.length > 0)
        .map(
          (l) =>
            `<table id="lag-${esc(l.processor)}"><caption>${esc(l.processor)} : ${l.records}</caption><thead><tr><th scope="col">${esc(t.topic)}</th><th scope="col">${esc(t.partition)}</th><th scope="col">${esc(t.recordsBehind)}</th></tr></thead><tbody>${l.partitions
              .slice(0, 50)
              .map(
                (p) => `<tr><td>${esc(p.topic)}</td><td>${esc(p.partition)}</td><td>${p.records}</td></tr>`,
              )
              .join('')}</tbody></table>`,
        )
        .join('\n')
}</section>
<section aria-labelledby="rel-h"><h2 id="rel-h">${esc(t.lastReleases)}</h2>
${
  view.releases === null || view.releases.length === 0
    ? `<p>${esc(t.noRelease)}</p>`
    : `<table><thead><tr><th scope="col">${esc(t.dataset)}</th><th scope="col">${esc(t.release)}</th><th scope="col">${esc(t.publishedAt)}</th><th scope="col">${esc(t.rows)}</th><th scope="col">${esc(t.suppressed)}</th><th scope="col">${esc(t.noised)}</th></tr></thead><tbody>${view.releases
        .map(
          (r) =>
            `<tr><td><a href="/governance#ds-${esc(r.dataset)}">${esc(r.dataset)}</a></td><td>${esc(r.releaseId ?? '—')}</td><td>${esc(r.publishedAt ?? '—')}</td><td>${r.rowCount ?? '—'}</td><td>${r.suppressedCells ?? '—'}</td><td>${r.noisedCells ?? '—'}</td></tr>`,
        )
        .join('')}</tbody></table>`
}</section>`;
  return layout(ctx, t.pipelineTitle, body, { nav: 'overview' });
}
