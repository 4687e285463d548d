/* Equipment page: table, filters, alerts and map (Leaflet), kept live by SSE.
 *
 * With the city (10 000 equipment) at full rate, most rows change between two updates: an update costs
 * what it changes, not a pass over the fleet (bench:console measured 23 long tasks over 40 s when every
 * update sorted the fleet, rebuilt the table, formatted 300 dates and walked every marker). The order is
 * kept without sorting (alerts first, then by id: the ids are sorted once), the table is rebuilt only when
 * the rows shown change and otherwise updated in place, markers are created in slices between frames and
 * restyled only when a status changes, and the alert list is redrawn only when the alerts change. */
(function () {
  'use strict';
  var o = window.ondijon,
    t = o.t,
    el = o.el;
  var rows = new Map();
  var alerts = [];
  var version = -1;
  var MAX_ROWS = 300;
  /** Markers created per slice (between two frames: each slice stays well under 50 ms). */
  var MARKER_SLICE = 500;
  var map = L.map('map', { preferCanvas: true, zoomControl: true }).setView([47.32, 5.04], 11);
  if (o.config.tileUrl)
    L.tileLayer(o.config.tileUrl, { attribution: o.config.tileAttribution, maxZoom: 19 }).addTo(map);
  var layer = L.layerGroup().addTo(map);
  var filters = ['f-commune', 'f-family', 'f-operator', 'f-state']
    .map(function (id) {
      return document.getElementById(id);
    })
    .filter(Boolean);
  filters.forEach(function (f) {
    f.addEventListener('change', function () {
      dirty.order = dirty.markers = dirty.alerts = true;
      render();
    });
  });
  // One formatter (toLocaleString builds one per call: 300 of them per update were a long task).
  var dateFormat = new Intl.DateTimeFormat(o.config.lang, {
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  function when(iso) {
    return iso ? dateFormat.format(new Date(iso)) : '—';
  }
  function value(id) {
    var e = document.getElementById(id);
    return e ? e.value : '';
  }
  function matcher() {
    var commune = value('f-commune'),
      family = value('f-family'),
      operator = value('f-operator'),
      status = value('f-state');
    return function (r) {
      return (
        (!commune || r.commune === commune) &&
        (!family || r.family === family) &&
        (!operator || r.operator === operator) &&
        (!status || r.status === status)
      );
    };
  }
  function stateText(r) {
    return Object.keys(r.state)
      .map(function (k) {
        var v = r.state[k];
        return k + '=' + (Array.isArray(v) ? (v.length ? v.join('+') : '∅') : v);
      })
      .join(' ');
  }
  function statusText(r) {
    return (
      t('status_' + r.status) +
      (r.alerts.length
        ? ' (' +
          r.alerts
            .map(function (k) {
              return t('alert_' + k);
            })
            .join(', ') +
          ')'
        : '')
    );
  }

  // What the next frame redraws: the order (filters, a status changed, new rows), the markers of the ids
  // in `changed`, every marker (filters), the alert list.
  var dirty = { order: true, markers: true, alerts: true };
  var changed = new Set();
  var sortedIds = null; // every id, sorted once
  var list = []; // the rows that match, in order
  var shownIds = []; // the ids of the table's rows
  var shownRows = new Map(); // id -> tr
  var renderPending = false;
  function render() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(function () {
      renderPending = false;
      draw();
    });
  }
  function order() {
    if (sortedIds === null || sortedIds.length !== rows.size) sortedIds = Array.from(rows.keys()).sort();
    var match = matcher();
    var alerting = [],
      others = [];
    for (var i = 0; i < sortedIds.length; i++) {
      var r = rows.get(sortedIds[i]);
      if (match(r)) (r.status === 'alert' ? alerting : others).push(r);
    }
    list = alerting.concat(others);
  }
  function fillRow(tr, r) {
    var cells = tr.children;
    cells[4].textContent = when(r.lastSeen);
    cells[5].className = 'status-' + r.status;
    cells[5].textContent = statusText(r);
    cells[6].textContent = stateText(r);
  }
  function drawTable() {
    var ids = list.slice(0, MAX_ROWS).map(function (r) {
      return r.id;
    });
    var same =
      ids.length === shownIds.length &&
      ids.every(function (id, i) {
        return id === shownIds[i];
      });
    if (same) {
      // The same rows: only those that changed are written.
      changed.forEach(function (id) {
        var tr = shownRows.get(id);
        if (tr) fillRow(tr, rows.get(id));
      });
    } else {
      var frag = document.createDocumentFragment();
      var next = new Map();
      ids.forEach(function (id) {
        var r = rows.get(id);
        var tr = shownRows.get(id);
        if (tr) {
          if (changed.has(id)) fillRow(tr, r);
        } else {
          tr = el('tr', { 'data-id': r.id });
          tr.appendChild(el('td', {}, r.id));
          tr.appendChild(el('td', {}, r.family));
          tr.appendChild(el('td', {}, r.operator));
          tr.appendChild(el('td', {}, r.communeName));
          tr.appendChild(el('td', {}, when(r.lastSeen)));
          tr.appendChild(el('td', { class: 'status-' + r.status }, statusText(r)));
          tr.appendChild(el('td', {}, stateText(r)));
        }
        next.set(id, tr);
        frag.appendChild(tr);
      });
      document.querySelector('#equipment tbody').replaceChildren(frag);
      shownIds = ids;
      shownRows = next;
    }
    document.getElementById('shown').textContent =
      '(' + t('shownOf', { shown: Math.min(list.length, MAX_ROWS), total: list.length }) + ')';
  }
  function drawAlerts() {
    var match = matcher();
    var ul = document.getElementById('alerts');
    var shownAlerts = alerts.filter(function (a) {
      var r = rows.get(a.equipmentId);
      return !r || match(r);
    });
    document.getElementById('alert-count').textContent = String(shownAlerts.length);
    var af = document.createDocumentFragment();
    if (!shownAlerts.length) af.appendChild(el('li', { class: 'none' }, t('noAlerts')));
    shownAlerts.slice(0, 200).forEach(function (a) {
      af.appendChild(
        el(
          'li',
          { 'data-alert': a.id, 'data-kind': a.kind },
          t('alert_' + a.kind) +
            ' — ' +
            a.equipmentId +
            (a.detail ? ' (' + a.detail + ')' : '') +
            ' · ' +
            t('since') +
            ' ' +
            when(a.since),
        ),
      );
    });
    ul.replaceChildren(af);
  }
  function draw() {
    if (dirty.order) order();
    drawTable();
    if (dirty.markers) drawAllMarkers();
    else
      changed.forEach(function (id) {
        restyle(id);
      });
    if (dirty.alerts) drawAlerts();
    dirty.order = dirty.markers = dirty.alerts = false;
    changed.clear();
  }

  // One marker per equipment, restyled in place; created in slices (10 000 at once was a long task).
  var markers = new Map();
  var pending = []; // rows whose marker is still to be created
  var creating = false;
  function style(r) {
    return {
      radius: r.status === 'alert' ? 6 : 3,
      color: r.status === 'alert' ? '#a4161a' : r.status === 'ok' ? '#1b5e20' : '#666',
      weight: 1,
      fillOpacity: 0.8,
    };
  }
  function label(r) {
    return r.id + ' · ' + t('status_' + r.status);
  }
  function restyle(id) {
    var m = markers.get(id);
    var r = rows.get(id);
    if (m && r && m._status !== r.status) {
      m.setStyle(style(r));
      m.setTooltipContent(label(r));
      m._status = r.status;
    }
  }
  function drawAllMarkers() {
    var keep = new Set();
    pending = [];
    list.forEach(function (r) {
      keep.add(r.id);
      if (markers.has(r.id)) restyle(r.id);
      else pending.push(r.id);
    });
    markers.forEach(function (m, id) {
      if (!keep.has(id)) {
        layer.removeLayer(m);
        markers.delete(id);
      }
    });
    if (pending.length && !creating) {
      creating = true;
      setTimeout(createSlice, 0);
    }
  }
  function createSlice() {
    var made = [];
    while (pending.length && made.length < MARKER_SLICE) {
      var id = pending.pop();
      var r = rows.get(id);
      if (!r || markers.has(id)) continue;
      var m = L.circleMarker([r.lat, r.lon], style(r)).bindTooltip(label(r));
      m._status = r.status;
      markers.set(id, m);
      made.push(m);
    }
    made.forEach(function (m) {
      layer.addLayer(m);
    });
    if (pending.length) setTimeout(createSlice, 0);
    else creating = false;
  }

  function apply(update) {
    (update.equipment || []).forEach(function (r) {
      var prev = rows.get(r.id);
      if (prev === undefined) {
        rows.set(r.id, r);
        dirty.order = dirty.markers = true;
      } else {
        // A live update holds what changed in a row (the server's liveFields): merged into it.
        if (prev.status !== r.status) dirty.order = true;
        Object.assign(prev, r);
      }
      changed.add(r.id);
    });
    // Rows that only reported again: their last-seen time alone (the server's changesSince).
    var seen = update.seen;
    if (seen) {
      for (var i = 0; i < seen.ids.length; i++) {
        var row = rows.get(seen.ids[i]);
        if (row === undefined) continue;
        row.lastSeen = new Date(seen.t0 + seen.dt[i]).toISOString();
        changed.add(seen.ids[i]);
      }
    }
    if (update.alerts) {
      alerts = update.alerts;
      dirty.alerts = true;
    }
    if (typeof update.version === 'number') version = update.version;
    render();
  }
  o.getJson('/api/equipment').then(function (data) {
    apply(data);
    o.live(version, apply);
  });
})();
