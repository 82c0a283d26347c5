/* evalsuite report: case browser (filter, sort, paging, lightbox). No network, no dependencies.
 * Every user-supplied string is inserted with textContent / text nodes, never as markup. */
(function () {
  'use strict';
  var dataEl = document.getElementById('report-data'), D = JSON.parse(dataEl.textContent);
  dataEl.remove();   // a megabyte-sized text node in <body> only slows style recalculation down
  var L = D.lanes, M = D.metrics, R = D.rows;
  var ref = -1, tgt = -1;
  L.forEach(function (l, i) { if (ref < 0 && l.kind === 'teacher') ref = i; if (tgt < 0 && l.target) tgt = i; });
  var S = { q: '', tag: '', metric: M.length ? (D.defaultMetric || 0) : -1, sort: 'case', failOnly: false, vmin: '', vmax: '', dmax: '',
            page: 0, pageSize: D.pageSize || 25 };
  var urlCache = {}, missing = false;

  function el(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined) return;
      if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  // Image data URLs sit in two inert template elements, #blobs-0 (page 1's, before this script) and
  // #blobs-1 (the rest, after it: still being parsed when page 1 is first shown; drawn again once loaded).
  function blob(id) {
    for (var k = 0; k < 2; k++) {
      var t = document.getElementById('blobs-' + k), e = t && t.content.getElementById(id);
      if (e) return e;
    }
    return null;
  }
  function imgUrl(id) {
    if (!id) return null;
    if (!(id in urlCache)) {
      var s = blob(id);
      if (!s) { missing = true; return null; }
      urlCache[id] = s.textContent;
    }
    return urlCache[id];
  }
  function fmt(v) { return v === null || v === undefined ? '—' : (Math.abs(v) >= 100 ? v.toFixed(1) : Number(v.toPrecision(4)).toString()); }
  function score(row, lane, mi) {
    var c = row.cells[lane]; if (!c || !c.s) return null;
    var s = c.s[String(mi)]; return s && s[0] !== null ? s[0] : null;
  }
  function hasFailure(row) {
    return row.cells.some(function (c) {
      return c && c.s && Object.keys(c.s).some(function (k) { return c.s[k][1] !== null; });
    });
  }
  function delta(row, mi) {   // oriented: > 0 means the compared model is better than the teacher
    if (ref < 0 || tgt < 0 || mi < 0) return null;
    if ((row.cells[tgt] || {}).changed || (row.cells[ref] || {}).changed) return null;   // other case content: not paired
    var a = score(row, tgt, mi), b = score(row, ref, mi);
    if (a === null || b === null) return null;
    return (a - b) * (M[mi].hib ? 1 : -1);
  }
  function num(s) { if (s === '' || s === null) return null; var v = Number(s); return isNaN(v) ? null : v; }

  function filtered() {
    var q = S.q.toLowerCase(), vmin = num(S.vmin), vmax = num(S.vmax), dmax = num(S.dmax), mi = S.metric;
    var valLane = tgt >= 0 ? tgt : (ref >= 0 ? ref : 0);
    var out = R.filter(function (r) {
      if (q && (r.case + ' ' + r.prompt).toLowerCase().indexOf(q) < 0) return false;
      if (S.tag && r.tags.indexOf(S.tag) < 0) return false;
      if (S.failOnly && !hasFailure(r)) return false;
      if (mi >= 0 && (vmin !== null || vmax !== null)) {
        var v = score(r, valLane, mi);
        if (v === null || (vmin !== null && v < vmin) || (vmax !== null && v > vmax)) return false;
      }
      if (dmax !== null) { var d = delta(r, mi); if (d === null || d > dmax) return false; }
      return true;
    });
    var key = null;
    if (S.sort === 'value-asc' || S.sort === 'value-desc') key = function (r) { return score(r, valLane, mi); };
    if (S.sort === 'delta-asc' || S.sort === 'delta-desc') key = function (r) { return delta(r, mi); };
    if (key) {
      var sign = S.sort.slice(-4) === 'desc' ? -1 : 1;
      out = out.map(function (r) { return [key(r), r]; });
      out.sort(function (x, y) {
        if (x[0] === null && y[0] === null) return 0;
        if (x[0] === null) return 1; if (y[0] === null) return -1;
        return sign * (x[0] - y[0]);
      });
      out = out.map(function (p) { return p[1]; });
    }
    return out;
  }

  // CJK ideographs, kana and hangul (as judges/textnorm.py is_cjk): scripts written without spaces
  // between words are diffed character by character, everything else word by word.
  var CJK = '\\u3040-\\u30ff\\u31f0-\\u31ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff\\u{20000}-\\u{2ebef}';
  var TOKEN = new RegExp('[' + CJK + ']|[^\\s' + CJK + ']+', 'gu');
  function tokens(s) {   // [{t: text, sp: followed by whitespace}]
    var out = [], m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(s)) !== null) {
      var end = m.index + m[0].length;
      out.push({ t: m[0], sp: end < s.length && /\s/.test(s.charAt(end)) });
    }
    return out;
  }
  function ocrDiff(expected, read) {
    // as the strict headline metrics: text as written (NFC only), so "sale" for "SALE" is a miss
    var norm = function (w) { return w.normalize('NFC'); };
    var a = tokens(expected), b = tokens(read);
    var n = a.length, m = b.length, i, j, T = [];
    for (i = 0; i <= n; i++) { T.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--)
      T[i][j] = norm(a[i].t) === norm(b[j].t) ? T[i + 1][j + 1] + 1 : Math.max(T[i + 1][j], T[i][j + 1]);
    var box = el('div', { class: 'ocr' }, el('span', { text: 'OCR: ' }));
    var txt = function (tok) { return tok.t + (tok.sp ? ' ' : ''); };
    i = 0; j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && norm(a[i].t) === norm(b[j].t)) { box.appendChild(el('span', { class: 'hit', text: txt(b[j]) })); i++; j++; }
      else if (j < m && (i >= n || T[i][j + 1] >= T[i + 1][j])) { box.appendChild(el('ins', { title: 'read but not expected', text: txt(b[j]) })); j++; }
      else { box.appendChild(el('del', { title: 'expected but not read', text: txt(a[i]) })); i++; }
    }
    if (!n && !m) box.appendChild(el('span', { class: 'ns', text: '(no text expected or read)' }));
    return box;
  }

  // The OCR judge's classified typography errors (detail.errors, detail.error_counts): one line of
  // counts per class, then the first errors as class: "expected" → "read" (∅ for none).
  function typoErrors(d) {
    var box = el('div', { class: 'typo' }), counts = d.error_counts || {};
    var parts = Object.keys(counts).filter(function (k) { return counts[k]; }).map(function (k) { return k + ' ' + counts[k]; });
    box.appendChild(el('div', { class: 'typo-counts', text: 'typography errors: ' + (parts.length ? parts.join(' · ') : 'none') }));
    var errs = (Array.isArray(d.errors) ? d.errors : []).slice(0, 10), ul = el('ul');   // the rest: counts, judge details
    var q = function (t) { return t ? '“' + t + '”' : '∅'; };
    errs.forEach(function (e) {
      if (!e || typeof e.kind !== 'string') return;
      ul.appendChild(el('li', { 'data-kind': e.kind }, el('b', { text: e.kind }), ': ' + q(e.expected) + ' → ' + q(e.read)));
    });
    var total = Object.keys(counts).reduce(function (n, k) { return n + (Number(counts[k]) || 0); }, 0);
    if (errs.length && total > errs.length) ul.appendChild(el('li', { class: 'ns', text: '… ' + (total - errs.length) + ' more' }));
    if (ul.children.length) box.appendChild(ul);
    return box;
  }

  function rationale(d) {
    var keys = ['rationale', 'reasoning', 'reason', 'explanation', 'analysis', 'critique', 'raw', 'reply'];
    var out = [];
    if (typeof d.outcome === 'string') out.push('outcome: ' + d.outcome + (d.category && d.category !== 'none' ? ' (' + d.category + ')' : ''));
    var found = false;
    for (var i = 0; i < keys.length && !found; i++) if (typeof d[keys[i]] === 'string' && d[keys[i]]) { out.push(d[keys[i]]); found = true; }
    if (!found && Array.isArray(d.replies)) {
      d.replies.forEach(function (r) { if (r && typeof r.text === 'string' && r.text) out.push(r.text); });
    }
    return out.length ? out.join('\n— ') : null;
  }

  function laneCell(row, li) {
    var lane = L[li], c = row.cells[li];
    var box = el('div', { class: 'lane ' + lane.kind + (lane.target ? ' target' : '') }, el('div', { class: 'lane-label', text: lane.label }));
    if (!c) { box.appendChild(el('div', { class: 'ns', text: 'not rendered' })); return box; }
    if (lane.kind === 'source' && !c.img) { box.appendChild(el('div', { class: 'ns', text: 'no source image (' + row.kind + ')' })); return box; }
    var meta = c.img ? D.images[c.img] : null;
    if (c.img) {
      var im = el('img', { class: 'thumb', alt: lane.label + ' ' + row.case + ' seed ' + row.seed, loading: 'lazy',
                           title: meta ? meta.w + '×' + meta.h + ' px — click to zoom' : '' });
      var u = imgUrl(c.img);
      if (u) im.src = u;
      if (meta) {   // show small renders enlarged (pixelated), large ones as 256 px thumbnails
        var k = Math.min(256 / Math.max(meta.w, meta.h), 4);
        im.width = Math.round(meta.w * k); im.height = Math.round(meta.h * k);
        if (k > 1) im.style.imageRendering = 'pixelated';
      }
      im.addEventListener('click', function () { openLightbox(c.img, lane.label + ' · ' + row.case + ' · seed ' + row.seed, 1); });
      box.appendChild(im);
    }
    if (c.changed) box.appendChild(el('div', { class: 'bad changed', title: 'case_hash differs from the row\'s first run',
      text: 'case edited in this run (other prompt, text or settings): shown, not paired' }));
    if (c.crop) {
      var cm = D.images[c.crop], z = Math.max(2, Math.floor(240 / Math.max(cm.w, cm.h)));
      var ci = el('img', { class: 'crop', alt: 'background crop', width: String(cm.w * z), height: String(cm.h * z),
                           title: 'flat background, native pixels ' + c.box.join(',') + ' ×' + z + ' — click to zoom' });
      var cu = imgUrl(c.crop);
      if (cu) ci.src = cu;
      ci.addEventListener('click', function () { openLightbox(c.crop, lane.label + ' · background crop · ' + row.case, 6); });
      var wrap = el('div', { class: 'crop-wrap' }, ci, el('span', { text: 'background ×' + z }));
      if (row.bg) {
        var sw = el('span', { class: 'swatch', title: 'requested colour rgb(' + row.bg.join(',') + ')' });
        sw.style.background = 'rgb(' + row.bg.map(Number).join(',') + ')';
        wrap.appendChild(sw);
      }
      box.appendChild(wrap);
    }
    if (c.s) {
      var ul = el('ul', { class: 'scores' });
      Object.keys(c.s).forEach(function (k) {
        var mi = Number(k), s = c.s[k], m = M[mi];
        var caseLevel = c.cl && c.cl.indexOf(mi) >= 0 ? ' (case)' : '';
        var li_ = s[1] !== null
          ? el('li', { class: 'fail' }, m.key + caseLevel + ': judge failed — ' + s[1])
          : el('li', null, m.key + caseLevel + ': ' + fmt(s[0]));
        if (mi === S.metric) li_.classList.add('sel');
        ul.appendChild(li_);
      });
      box.appendChild(ul);
    }
    if (c.d) {
      Object.keys(c.d).forEach(function (judge) {
        var d = c.d[judge];
        if (typeof d.text === 'string' && (judge === 'ocr' || judge.indexOf('ocr') === 0)) {
          var exp = (d.expected && d.expected.length ? d.expected : row.expected).join(' ');
          box.appendChild(ocrDiff(exp, d.text));
          if (d.error_counts && typeof d.error_counts === 'object') box.appendChild(typoErrors(d));
        }
        var r = rationale(d);
        if (r && judge.indexOf('ocr') !== 0) box.appendChild(el('div', { class: 'rationale' }, el('b', { text: judge + ': ' }), r));
      });
      var det = el('details', null, el('summary', { text: 'judge details' }));
      det.addEventListener('toggle', function () {
        if (det.open && det.children.length === 1) det.appendChild(el('pre', { class: 'detail', text: JSON.stringify(c.d, null, 1) }));
      });
      box.appendChild(det);
    }
    return box;
  }

  function rowEl(row) {
    var head = el('div', { class: 'row-head' }, el('span', { class: 'cid', text: row.case }),
                  el('span', { class: 'kind', text: row.kind + ' · seed ' + row.seed }));
    row.tags.forEach(function (t) { head.appendChild(el('span', { class: 'tag', text: t })); });
    var d = delta(row, S.metric);
    if (d !== null) head.appendChild(el('span', { class: 'delta ' + (d < 0 ? 'neg' : d > 0 ? 'pos' : ''),
      title: 'compared model − teacher, oriented so that negative is worse',
      text: 'Δ ' + M[S.metric].key + ' ' + (d > 0 ? '+' : '') + fmt(d) }));
    head.appendChild(el('div', { class: 'prompt', text: row.prompt }));
    if (row.expected.length) head.appendChild(el('div', { class: 'kind', text: 'expected text: ' + row.expected.join(' | ') }));
    var lanes = el('div', { class: 'lanes' });
    for (var i = 0; i < L.length; i++) lanes.appendChild(laneCell(row, i));
    return el('div', { class: 'case-row', 'data-case': row.case, 'data-seed': String(row.seed) }, head, lanes);
  }

  var rowsBox = document.getElementById('rows'), countBox = document.getElementById('count'), pager = document.getElementById('pager');
  function render() {
    var rows = filtered(), size = S.pageSize > 0 ? S.pageSize : rows.length || 1;
    var pages = Math.max(1, Math.ceil(rows.length / size));
    if (S.page >= pages) S.page = pages - 1;
    var page = rows.slice(S.page * size, S.page * size + size);
    rowsBox.textContent = '';
    var frag = document.createDocumentFragment();
    page.forEach(function (r) { frag.appendChild(rowEl(r)); });
    rowsBox.appendChild(frag);
    countBox.textContent = rows.length + ' of ' + R.length + ' rows match · showing ' + page.length;
    countBox.setAttribute('data-matching', String(rows.length));
    pager.textContent = '';
    var prev = el('button', { type: 'button', id: 'prev', text: '◀ prev' }), next = el('button', { type: 'button', id: 'next', text: 'next ▶' });
    prev.disabled = S.page === 0; next.disabled = S.page >= pages - 1;
    prev.addEventListener('click', function () { S.page--; render(); window.scrollTo(0, document.getElementById('cases').offsetTop); });
    next.addEventListener('click', function () { S.page++; render(); window.scrollTo(0, document.getElementById('cases').offsetTop); });
    pager.appendChild(prev); pager.appendChild(el('span', { id: 'page', text: 'page ' + (S.page + 1) + ' / ' + pages })); pager.appendChild(next);
  }

  function controls() {
    var box = document.getElementById('controls');
    function bind(node, key, ev, conv) {
      node.addEventListener(ev, function () { S[key] = conv ? conv(node) : node.value; S.page = 0; render(); });
      return node;
    }
    var q = bind(el('input', { type: 'search', id: 'f-search', placeholder: 'case id or prompt' }), 'q', 'input');
    var tag = el('select', { id: 'f-tag' }, el('option', { value: '', text: 'all tags' }));
    var tags = {}; R.forEach(function (r) { r.tags.forEach(function (t) { tags[t] = (tags[t] || 0) + 1; }); });
    Object.keys(tags).sort().forEach(function (t) { tag.appendChild(el('option', { value: t, text: t + ' (' + tags[t] + ')' })); });
    bind(tag, 'tag', 'change');
    var met = el('select', { id: 'f-metric' });
    M.forEach(function (m, i) { met.appendChild(el('option', { value: String(i), text: m.key + (m.hib ? ' ↑' : ' ↓') })); });
    met.value = String(S.metric);
    bind(met, 'metric', 'change', function (n) { return Number(n.value); });
    var sort = el('select', { id: 'f-sort' });
    [['case', 'case id'], ['value-asc', 'metric ascending'], ['value-desc', 'metric descending'],
     ['delta-asc', 'Δ vs teacher, worst first'], ['delta-desc', 'Δ vs teacher, best first']].forEach(function (o) {
      sort.appendChild(el('option', { value: o[0], text: o[1] }));
    });
    bind(sort, 'sort', 'change');
    var fail = bind(el('input', { type: 'checkbox', id: 'f-failures' }), 'failOnly', 'change', function (n) { return n.checked; });
    var vmin = bind(el('input', { type: 'number', id: 'f-min', step: 'any', placeholder: 'min' }), 'vmin', 'input');
    var vmax = bind(el('input', { type: 'number', id: 'f-max', step: 'any', placeholder: 'max' }), 'vmax', 'input');
    var dmax = bind(el('input', { type: 'number', id: 'f-dmax', step: 'any', placeholder: 'e.g. -0.1' }), 'dmax', 'input');
    var ps = el('select', { id: 'f-pagesize' });
    [10, 25, 50, 100].forEach(function (n) { var o = el('option', { value: String(n), text: n + ' per page' }); if (n === S.pageSize) o.selected = true; ps.appendChild(o); });
    bind(ps, 'pageSize', 'change', function (n) { return Number(n.value); });
    box.appendChild(el('label', null, 'search ', q));
    box.appendChild(el('label', null, 'tag ', tag));
    box.appendChild(el('label', null, 'metric ', met));
    box.appendChild(el('label', null, 'sort ', sort));
    box.appendChild(el('label', { title: 'value of the selected metric for the compared model' }, 'value ', vmin, '–', vmax));
    if (ref >= 0 && tgt >= 0) box.appendChild(el('label', { title: 'oriented delta vs teacher (negative = worse)' }, 'Δ ≤ ', dmax));
    box.appendChild(el('label', null, fail, ' judge failures only'));
    box.appendChild(ps);
  }

  var lb = document.getElementById('lightbox'), lbImg = document.getElementById('lb-img'), zoom = 1, natural = [0, 0];
  function applyZoom() { lbImg.style.width = Math.round(natural[0] * zoom) + 'px'; lbImg.style.height = Math.round(natural[1] * zoom) + 'px'; }
  function openLightbox(id, title, z) {
    // the full-resolution render when the report embedded it (see --full-budget), else the thumbnail
    var m = D.images[id] || { w: 256, h: 256 }, full = m.full && blob(m.full) ? m.full : null;
    natural = [m.w, m.h]; zoom = z;
    var u = imgUrl(full || id);
    if (u) lbImg.src = u; else lbImg.removeAttribute('src');
    lbImg.setAttribute('data-full', full ? '1' : '0');
    var res = m.tw && m.tw !== m.w && !full ? ', thumbnail ' + m.tw + '×' + m.th + ' shown: full resolution not embedded (--full-budget)' : '';
    document.getElementById('lb-title').textContent = title + ' (' + m.w + '×' + m.h + res + ')';
    applyZoom(); lb.hidden = false;
  }
  document.getElementById('lb-in').addEventListener('click', function () { zoom *= 1.5; applyZoom(); });
  document.getElementById('lb-out').addEventListener('click', function () { zoom /= 1.5; applyZoom(); });
  document.getElementById('lb-close').addEventListener('click', function () { lb.hidden = true; lbImg.removeAttribute('src'); });
  document.getElementById('lb-view').addEventListener('wheel', function (e) { e.preventDefault(); zoom *= e.deltaY < 0 ? 1.2 : 1 / 1.2; applyZoom(); }, { passive: false });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') lb.hidden = true; });

  controls();
  render();
  document.body.setAttribute('data-first-render-ms', String(Math.round(performance.now())));
  function loaded() {   // every image block parsed: fill in what the first render could not show
    if (missing) { missing = false; render(); }
    document.body.setAttribute('data-ready-ms', String(Math.round(performance.now())));
    document.body.setAttribute('data-ready', '1');
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', loaded); else loaded();
})();
