/* Overview: rates by family and operator, dead letters per minute by code, drawn with uPlot. */
(function () {
  'use strict';
  var o = window.ondijon,
    t = o.t,
    el = o.el;
  var COLORS = [
    '#0b4f8a',
    '#a4161a',
    '#1b5e20',
    '#7b3f00',
    '#5b2a86',
    '#00695c',
    '#ad1457',
    '#37474f',
    '#827717',
    '#4e342e',
    '#283593',
    '#bf360c',
  ];
  var charts = {};
  function width(id) {
    return Math.max(320, document.getElementById(id).clientWidth || 800);
  }
  function draw(id, times, series, label) {
    var keys = Object.keys(series).sort();
    var data = [times].concat(
      keys.map(function (k) {
        return series[k];
      }),
    );
    var opts = {
      width: width(id),
      height: 240,
      series: [{}].concat(
        keys.map(function (k, i) {
          return { label: k, stroke: COLORS[i % COLORS.length], width: 1.5 };
        }),
      ),
      axes: [{}, { label: label }],
    };
    var key = id + '|' + keys.join(',');
    if (charts[id] && charts[id].key === key) {
      charts[id].plot.setData(data);
      return;
    }
    if (charts[id]) charts[id].plot.destroy();
    var node = document.getElementById(id);
    node.replaceChildren();
    charts[id] = { key: key, plot: new uPlot(opts, data, node) };
  }
  function seconds(s) {
    if (s === null || s === undefined) return '—';
    return s < 1 ? (s * 1000).toFixed(s < 0.01 ? 1 : 0) + ' ms' : s.toFixed(2) + ' s';
  }
  function cell(tr, text, href) {
    var td = el('td');
    if (href) td.appendChild(el('a', { href: href }, text));
    else td.textContent = text;
    tr.appendChild(td);
  }
  /* The pipeline's health (supervisor, governance): latency, lag and watermark per processor, last releases. */
  function pipeline() {
    if (!o.config.pipeline) return Promise.resolve();
    return o.getJson('/api/pipeline').then(function (p) {
      document.getElementById('pipe-unavailable').textContent = p.unavailable.length
        ? t('unavailable', { what: p.unavailable.join(', ') })
        : '';
      var lat = p.latency;
      document.getElementById('lat-p50').textContent = lat ? seconds(lat.p50) : '—';
      document.getElementById('lat-p99').textContent = lat ? seconds(lat.p99) : '—';
      document.getElementById('lat-window').textContent = lat
        ? t('latencyWindow', { s: lat.windowS, n: lat.count })
        : '—';
      var lag = document.createDocumentFragment();
      (p.lag || []).forEach(function (l) {
        var tr = el('tr', { 'data-processor': l.processor });
        cell(tr, l.processor, '/pipeline#lag-' + encodeURIComponent(l.processor));
        cell(tr, String(l.records));
        cell(
          tr,
          l.watermark ? o.when(l.watermark) : '—',
          l.watermark ? '/pipeline#wm-' + encodeURIComponent(l.processor) : null,
        );
        cell(tr, l.watermarkBehindS === null ? '—' : String(l.watermarkBehindS));
        lag.appendChild(tr);
      });
      document.querySelector('#lag tbody').replaceChildren(lag);
      var rel = document.createDocumentFragment();
      (p.releases || []).forEach(function (r) {
        var tr = el('tr', { 'data-dataset': r.dataset });
        cell(tr, r.dataset, '/governance#ds-' + encodeURIComponent(r.dataset));
        cell(tr, r.releaseId || '—');
        cell(tr, o.when(r.publishedAt));
        cell(tr, r.rowCount === null ? '—' : String(r.rowCount));
        cell(tr, r.suppressedCells === null ? '—' : String(r.suppressedCells));
        cell(tr, r.noisedCells === null ? '—' : String(r.noisedCells));
        rel.appendChild(tr);
      });
      document.querySelector('#releases tbody').replaceChildren(rel);
    });
  }
  function refresh() {
    pipeline().catch(function () {
      /* shown as not readable at the next refresh */
    });
    return o.getJson('/api/overview').then(function (d) {
      draw('chart-family', d.rates.times, d.rates.byFamily, t('msgPerS'));
      draw('chart-operator', d.rates.times, d.rates.byOperator, t('msgPerS'));
      draw('chart-dlq', d.deadLetters.minutes, d.deadLetters.byCode, t('count'));
      var tbody = document.querySelector('#current tbody');
      var frag = document.createDocumentFragment();
      Object.keys(d.rates.byOperator)
        .sort()
        .forEach(function (op) {
          var s = d.rates.byOperator[op];
          var last = s.slice(-6);
          var mean =
            last.reduce(function (a, b) {
              return a + b;
            }, 0) / Math.max(1, last.length);
          var tr = el('tr', { 'data-operator': op });
          tr.appendChild(el('td', {}, op));
          tr.appendChild(el('td', {}, mean.toFixed(1)));
          frag.appendChild(tr);
        });
      tbody.replaceChildren(frag);
    });
  }
  refresh().then(function () {
    var busy = false;
    o.live(
      1e15,
      function () {
        if (busy) return;
        busy = true;
        refresh().finally(function () {
          busy = false;
        });
      },
      true,
    );
  });
})();
