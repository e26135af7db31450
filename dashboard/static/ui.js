// Zyeuté admin dashboard: DOM, formatting and chart helpers shared by
// app.js. Plain JS, no dependencies. Values reach the DOM as text only.
'use strict';

var ZyUI = (function () {
  var HISTORY = 120; // samples kept for the depth and hit-rate charts
  var $ = function (id) { return document.getElementById(id); };
  var nf = new Intl.NumberFormat('fr-CA');

  // ---- DOM helpers (text only) -----------------------------------------
  function text(el, v) { el.textContent = (v === null || v === undefined) ? '' : String(v); }
  function show(el, on) { el.hidden = !on; }
  function badge(el, state, label) {
    el.setAttribute('data-state', String(state || 'unknown'));
    text(el, label);
  }
  function el(tag, value, cls) {
    var c = document.createElement(tag);
    if (value !== undefined && value !== null) { text(c, value); }
    if (cls) { c.className = cls; }
    return c;
  }
  function link(href, value) {
    var a = el('a', value);
    a.href = href;
    return a;
  }
  function message(elm, msg) {
    text(elm, msg);
    show(elm, !!msg);
  }
  function num(v) { return (typeof v === 'number' && isFinite(v)) ? nf.format(v) : '—'; }
  function pct(v) { return (typeof v === 'number' && isFinite(v)) ? (v * 100).toFixed(1) + ' %' : '—'; }
  function age(sec) {
    if (typeof sec !== 'number' || !isFinite(sec)) { return '—'; }
    if (sec < 1) { return '< 1 s'; }
    if (sec < 60) { return Math.floor(sec) + ' s'; }
    if (sec < 3600) { return Math.floor(sec / 60) + ' min ' + Math.floor(sec % 60) + ' s'; }
    if (sec < 86400) { return Math.floor(sec / 3600) + ' h ' + Math.floor((sec % 3600) / 60) + ' min'; }
    return Math.floor(sec / 86400) + ' j/d ' + Math.floor((sec % 86400) / 3600) + ' h';
  }
  function ms(v) {
    if (typeof v !== 'number' || !isFinite(v)) { return '—'; }
    return v < 1000 ? v + ' ms' : age(v / 1000);
  }
  function when(msEpoch) { return msEpoch ? new Date(msEpoch).toLocaleString('fr-CA') : '—'; }
  function bytes(n) {
    if (typeof n !== 'number' || !isFinite(n)) { return '—'; }
    var u = ['o/B', 'Kio/KiB', 'Mio/MiB', 'Gio/GiB', 'Tio/TiB'];
    var i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function pretty(v) {
    if (v === undefined || v === null) { return '—'; }
    try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); }
  }

  // ---- charts (SVG, drawn with DOM calls) ------------------------------
  // The SVG namespace, read from an <svg> the HTML parser made.
  function svg(tag, attrs) {
    var n = document.createElementNS($('svg-ns').namespaceURI, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, String(attrs[k])); });
    return n;
  }
  // sparkline draws values (oldest first) as a line in a w×h box, from 0
  // to top (default: the largest value).
  function sparkline(values, w, h, cls, top) {
    var s = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, width: w, height: h, 'class': 'spark ' + (cls || ''), 'aria-hidden': 'true' });
    s.appendChild(svg('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, stroke: '#c5cad8', 'stroke-width': 1 }));
    if (!values.length) { return s; }
    var maxV = top || Math.max.apply(null, values.concat([1]));
    var step = values.length > 1 ? w / (values.length - 1) : w;
    var pts = values.map(function (v, i) { return (i * step).toFixed(1) + ',' + (h - 1 - (v / maxV) * (h - 2)).toFixed(1); });
    s.appendChild(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }));
    return s;
  }
  // bars draws two series (per minute, oldest first) side by side.
  function bars(series, w, h) {
    var s = svg('svg', { viewBox: '0 0 ' + w + ' ' + h, 'class': 'bars', preserveAspectRatio: 'none' });
    var n = series[0].values.length;
    var maxV = 1;
    series.forEach(function (se) { se.values.forEach(function (v) { maxV = Math.max(maxV, v); }); });
    var bw = w / Math.max(n, 1);
    series.forEach(function (se, k) {
      se.values.forEach(function (v, i) {
        if (!v) { return; }
        var bh = (v / maxV) * (h - 12);
        var r = svg('rect', { x: (i * bw + k * bw / 2).toFixed(2), y: (h - bh).toFixed(2), width: (bw / 2).toFixed(2), height: bh.toFixed(2), 'class': se.cls });
        r.appendChild(svg('title', {}));
        r.firstChild.textContent = se.label + ': ' + v;
        s.appendChild(r);
      });
    });
    s.setAttribute('data-max', String(maxV));
    return s;
  }
  function pushSample(arr, v) {
    arr.push(v);
    if (arr.length > HISTORY) { arr.shift(); }
  }

  return {
    $: $, text: text, show: show, badge: badge, el: el, link: link, message: message, num: num, pct: pct, age: age, ms: ms, when: when, bytes: bytes, pretty: pretty, svg: svg, sparkline: sparkline, bars: bars, pushSample: pushSample
  };
}());
