/* Equipment page: table, filters, alerts and map (Leaflet), kept live by SSE. */
(function () {
  'use strict';
  var o = window.ondijon, t = o.t, el = o.el;
  var rows = new Map();
  var alerts = [];
  var version = -1;
  var MAX_ROWS = 300;
  var map = L.map('map', { preferCanvas: true, zoomControl: true }).setView([47.32, 5.04], 11);
  if (o.config.tileUrl) L.tileLayer(o.config.tileUrl, { attribution: o.config.tileAttribution, maxZoom: 19 }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var filters = ['f-commune', 'f-family', 'f-operator', 'f-state'].map(function (id) { return document.getElementById(id); }).filter(Boolean);
  filters.forEach(function (f) { f.addEventListener('change', render); });
  function value(id) { var e = document.getElementById(id); return e ? e.value : ''; }
  function matches(r) {
    return (!value('f-commune') || r.commune === value('f-commune')) &&
      (!value('f-family') || r.family === value('f-family')) &&
      (!value('f-operator') || r.operator === value('f-operator')) &&
      (!value('f-state') || r.status === value('f-state'));
  }
  function stateText(r) {
    return Object.keys(r.state).map(function (k) {
      var v = r.state[k];
      return k + '=' + (Array.isArray(v) ? (v.length ? v.join('+') : '∅') : v);
    }).join(' ');
  }
  var renderPending = false;
  function render() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(function () { renderPending = false; draw(); });
  }
  function draw() {
    var list = [];
    rows.forEach(function (r) { if (matches(r)) list.push(r); });
    list.sort(function (a, b) { return (a.status === 'alert' ? 0 : 1) - (b.status === 'alert' ? 0 : 1) || (a.id < b.id ? -1 : 1); });
    var tbody = document.querySelector('#equipment tbody');
    var frag = document.createDocumentFragment();
    list.slice(0, MAX_ROWS).forEach(function (r) {
      var tr = el('tr', { 'data-id': r.id });
      tr.appendChild(el('td', {}, r.id));
      tr.appendChild(el('td', {}, r.family));
      tr.appendChild(el('td', {}, r.operator));
      tr.appendChild(el('td', {}, r.communeName));
      tr.appendChild(el('td', {}, o.when(r.lastSeen)));
      tr.appendChild(el('td', { class: 'status-' + r.status }, t('status_' + r.status) + (r.alerts.length ? ' (' + r.alerts.map(function (k) { return t('alert_' + k); }).join(', ') + ')' : '')));
      tr.appendChild(el('td', {}, stateText(r)));
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
    document.getElementById('shown').textContent = '(' + t('shownOf', { shown: Math.min(list.length, MAX_ROWS), total: list.length }) + ')';
    layer.clearLayers();
    list.forEach(function (r) {
      L.circleMarker([r.lat, r.lon], { radius: r.status === 'alert' ? 6 : 3, color: r.status === 'alert' ? '#a4161a' : r.status === 'ok' ? '#1b5e20' : '#666', weight: 1, fillOpacity: 0.8 })
        .bindTooltip(r.id + ' · ' + t('status_' + r.status)).addTo(layer);
    });
    var ul = document.getElementById('alerts');
    var shownAlerts = alerts.filter(function (a) { var r = rows.get(a.equipmentId); return !r || matches(r); });
    document.getElementById('alert-count').textContent = String(shownAlerts.length);
    var af = document.createDocumentFragment();
    if (!shownAlerts.length) af.appendChild(el('li', { class: 'none' }, t('noAlerts')));
    shownAlerts.slice(0, 200).forEach(function (a) {
      af.appendChild(el('li', { 'data-alert': a.id, 'data-kind': a.kind }, t('alert_' + a.kind) + ' — ' + a.equipmentId + (a.detail ? ' (' + a.detail + ')' : '') + ' · ' + t('since') + ' ' + o.when(a.since)));
    });
    ul.replaceChildren(af);
  }
  function apply(update) {
    (update.equipment || []).forEach(function (r) { rows.set(r.id, r); });
    if (update.alerts) alerts = update.alerts;
    if (typeof update.version === 'number') version = update.version;
    render();
  }
  o.getJson('/api/equipment').then(function (data) {
    apply(data);
    o.live(version, apply);
  });
})();
