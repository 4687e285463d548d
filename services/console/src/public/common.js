/* Shared by the pages: configuration, text, live updates by Server-Sent Events. */
(function () {
  'use strict';
  var config = JSON.parse(document.getElementById('console-config').textContent);
  function t(key, values) {
    var s = config.t[key] || key;
    return s.replace(/\{(\w+)\}/g, function (_, k) {
      return values && values[k] !== undefined ? values[k] : '';
    });
  }
  function query(extra) {
    var p = new URLSearchParams();
    if (config.operator) p.set('operator', config.operator);
    Object.keys(extra || {}).forEach(function (k) {
      if (extra[k] !== '' && extra[k] !== undefined) p.set(k, extra[k]);
    });
    var s = p.toString();
    return s ? '?' + s : '';
  }
  function getJson(path, extra) {
    return fetch(path + query(extra), {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    }).then(function (r) {
      if (!r.ok) throw new Error(path + ': ' + r.status);
      return r.json();
    });
  }
  /**
   * Opens the live stream; calls onUpdate with each update; the browser reconnects by itself. `noRows`:
   * the page shows no equipment rows (the server then sends none).
   */
  function live(since, onUpdate, noRows) {
    var status = document.getElementById('live');
    var source = new EventSource('/api/events' + query({ since: since, rows: noRows ? '0' : '' }));
    source.addEventListener('update', function (e) {
      if (status) status.textContent = t('live') + ' · ' + new Date().toLocaleTimeString(config.lang);
      onUpdate(JSON.parse(e.data));
    });
    source.onerror = function () {
      if (status) status.textContent = t('liveLost');
    };
    return source;
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      e.setAttribute(k, attrs[k]);
    });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function when(iso) {
    return iso ? new Date(iso).toLocaleString(config.lang) : '—';
  }
  window.ondijon = { config: config, t: t, getJson: getJson, live: live, el: el, when: when, query: query };
})();
