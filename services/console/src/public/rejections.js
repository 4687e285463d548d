/* Rejections page: dead letters by code, reason, fields, payload (masked above S1), kept live by SSE. */
(function () {
  'use strict';
  var o = window.ondijon,
    t = o.t,
    el = o.el;
  var code = document.getElementById('f-code');
  var lastCount = -1;
  function load() {
    return o.getJson('/api/rejections', { code: code.value }).then(draw);
  }
  function draw(data) {
    var counts = document.getElementById('counts');
    var cf = document.createDocumentFragment();
    var codes = Object.keys(data.counts).sort();
    if (!codes.length) cf.appendChild(el('li', {}, t('noRejections')));
    codes.forEach(function (c) {
      cf.appendChild(el('li', {}, c + ' : ' + data.counts[c]));
    });
    counts.replaceChildren(cf);
    var tbody = document.querySelector('#rejections tbody');
    var frag = document.createDocumentFragment();
    data.rejections.forEach(function (r) {
      var tr = el('tr', { 'data-id': r.id, 'data-code': r.code, 'data-source': r.source });
      tr.appendChild(el('td', {}, o.when(r.receivedAt)));
      tr.appendChild(el('td', {}, r.operator || '—'));
      tr.appendChild(el('td', {}, r.equipmentId || '—'));
      tr.appendChild(el('td', {}, r.code));
      tr.appendChild(el('td', {}, t('source_' + r.source)));
      tr.appendChild(el('td', {}, r.reason));
      tr.appendChild(el('td', {}, r.fields.join(', ') || '—'));
      var td = el('td', { 'data-payload': r.payload.status });
      td.appendChild(el('span', {}, t('payload_' + r.payload.status)));
      if (r.payload.text !== null) td.appendChild(el('pre', {}, r.payload.text));
      if (o.config.canReveal && (r.payload.status === 'masked' || r.payload.status === 'partial')) {
        var b = el('button', { type: 'button' }, t('reveal'));
        b.addEventListener('click', function () {
          reveal(r.id, td);
        });
        td.appendChild(b);
      }
      tr.appendChild(td);
      var action = el('td', {});
      // A stream letter goes back to its topic whatever its class (the masked payload is never sent).
      if (o.config.canReplay && (r.source === 'stream' ? r.kafkaTopic : r.payload.status !== 'absent')) {
        var rb = el(
          'button',
          { type: 'button', 'data-replay': r.id, 'aria-label': t('replay') + ' ' + r.id },
          t('replay'),
        );
        rb.addEventListener('click', function () {
          replay({ ids: [r.id] }, 1);
        });
        action.appendChild(rb);
      }
      tr.appendChild(action);
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
    document.getElementById('shown').textContent = '(' + data.rejections.length + ')';
  }
  function reveal(id, td) {
    var token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
    fetch('/api/rejections/' + encodeURIComponent(id) + '/reveal', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-csrf-token': token },
    })
      .then(function (r) {
        return r.json();
      })
      .then(function (d) {
        td.appendChild(el('pre', {}, d.payload === null ? '—' : d.payload));
      });
  }
  function replay(selection, n) {
    if (!window.confirm(t('replayConfirm', { n: n }))) return;
    var token = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
    fetch('/api/rejections/replay', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'x-csrf-token': token, 'content-type': 'application/json' },
      body: JSON.stringify(selection),
    })
      .then(function (res) {
        return res.json();
      })
      .then(function (d) {
        if (!d.results) {
          document.getElementById('replay-result').textContent = d.message || 'error';
          return;
        }
        var results = d.results || [];
        var rejected = results.filter(function (x) {
          return x.outcome === 'rejected-again';
        }).length;
        document.getElementById('replay-result').textContent = t('replayDone', {
          n: results.length,
          accepted: d.accepted || 0,
          rejected: rejected,
        });
        load();
      });
  }
  var replayCode = document.getElementById('replay-code');
  if (replayCode) {
    replayCode.addEventListener('click', function () {
      var n = document.querySelectorAll('#rejections tbody tr').length;
      replay({ code: code.value }, n);
    });
  }
  code.addEventListener('change', function () {
    if (replayCode) replayCode.disabled = !code.value;
    load();
  });
  load().then(function () {
    o.live(
      -1,
      function (u) {
        if (u.rejections !== lastCount) {
          lastCount = u.rejections;
          load();
        }
      },
      true,
    );
  });
})();
