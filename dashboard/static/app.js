// Zyeuté admin dashboard. Plain JS, no dependencies, no build step.
// Every value from the server reaches the DOM through textContent (or a
// data-* attribute), never through the HTML parser. The admin token stays in this tab's
// sessionStorage and travels only in the Authorization header.
'use strict';

(function () {
  var POLL_MS = 3000;
  var TIMEOUT_MS = 5000;
  var TOKEN_KEY = 'zyeute.admin.token';
  var TOKEN_UNSET = 'ADMIN_TOKEN not set';

  var $ = function (id) { return document.getElementById(id); };
  var nf = new Intl.NumberFormat('fr-CA');

  // ---- token ---------------------------------------------------------
  function getToken() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; }
  }
  function setToken(t) {
    try {
      if (t) { sessionStorage.setItem(TOKEN_KEY, t); } else { sessionStorage.removeItem(TOKEN_KEY); }
    } catch (e) { /* storage disabled: the token is simply not kept */ }
  }

  // ---- DOM helpers (text only) ---------------------------------------
  function text(el, v) { el.textContent = (v === null || v === undefined) ? '' : String(v); }
  function show(el, on) { el.hidden = !on; }
  function badge(el, state, label) {
    el.setAttribute('data-state', String(state || 'unknown'));
    text(el, label);
  }
  function cell(tag, value, cls) {
    var c = document.createElement(tag);
    text(c, value);
    if (cls) { c.className = cls; }
    return c;
  }
  function message(el, msg) {
    text(el, msg);
    show(el, !!msg);
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

  var LABELS = {
    connected: 'connecté / connected',
    disconnected: 'déconnecté / disconnected',
    not_configured: 'non configuré / not configured',
    healthy: 'en santé / healthy',
    degraded: 'dégradé / degraded',
    ok: 'ok',
    unknown: 'inconnu / unknown'
  };
  function label(s) { return LABELS[s] || String(s); }

  // ---- fetch -----------------------------------------------------------
  // getJSON resolves to {status, body} for any HTTP answer and rejects
  // only when the server could not be reached (or did not answer in time).
  function getJSON(path, token) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    var headers = { 'Accept': 'application/json' };
    if (token) { headers['Authorization'] = 'Bearer ' + token; }
    return fetch(path, {
      headers: headers, cache: 'no-store', credentials: 'omit',
      referrerPolicy: 'no-referrer', redirect: 'error', signal: ctl.signal
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        return { status: res.status, body: body };
      });
    }).finally(function () { clearTimeout(timer); });
  }

  function errText(e) {
    if (e && e.name === 'AbortError') { return 'pas de réponse en ' + (TIMEOUT_MS / 1000) + ' s / no answer in ' + (TIMEOUT_MS / 1000) + ' s'; }
    return (e && e.message) ? e.message : String(e);
  }
  function bodyError(r) {
    return (r.body && typeof r.body.error === 'string') ? r.body.error : ('HTTP ' + r.status);
  }

  // ---- login state -----------------------------------------------------
  function showLogin(msg) {
    setToken('');
    message($('login-msg'), msg);
    show($('login'), true);
    show($('logout'), false);
    show($('queues'), false);
    show($('moderation'), false);
    $('token').focus();
  }
  function showAdmin() {
    message($('login-msg'), '');
    show($('login'), false);
    show($('logout'), true);
    show($('queues'), true);
    show($('moderation'), true);
  }

  // adminAnswer handles what every admin route may answer; it returns true
  // when the body is data to render.
  function adminAnswer(r, token, msgEl, section) {
    if (token !== getToken()) { return false; } // answer to a token since replaced
    if (r.status === 401) {
      showLogin('Jeton refusé (401) : vérifiez ADMIN_TOKEN et réessayez. / Token rejected (401): check ADMIN_TOKEN and try again.');
      return false;
    }
    if (r.status === 503 && r.body && r.body.error === TOKEN_UNSET) {
      showLogin('ADMIN_TOKEN n\u2019est pas défini sur le serveur (503). Démarrez-le avec ADMIN_TOKEN=<jeton> (16 caractères ou plus), ' +
        'p. ex. ADMIN_TOKEN=$(openssl rand -hex 24) make run. / ADMIN_TOKEN is not set on the server (503): ' +
        'restart it with ADMIN_TOKEN=<token> (16+ characters), e.g. ADMIN_TOKEN=$(openssl rand -hex 24) make run.');
      return false;
    }
    if (r.status !== 200 || !r.body) {
      var last = section.getAttribute('data-updated');
      message(msgEl, 'Indisponible / Unavailable (' + r.status + ') : ' + bodyError(r) +
        (last ? ' — dernières valeurs / last values: ' + last : ''));
      section.classList.add('stale');
      return false;
    }
    message(msgEl, '');
    section.classList.remove('stale');
    section.setAttribute('data-updated', new Date().toLocaleTimeString('fr-CA'));
    return true;
  }

  // ---- renderers -------------------------------------------------------
  function renderHealth(r) {
    var d = r.body;
    if (!d || typeof d !== 'object' || !d.redis) { throw new Error('/api/health: HTTP ' + r.status); }
    $('health').classList.remove('stale');
    badge($('overall'), d.status, label(d.status));
    var rs = d.redis.status;
    badge($('redis-status'), rs, label(rs));
    text($('redis-message'), d.redis.message || '');
    text($('redis-latency'), typeof d.redis.latency === 'number' ? d.redis.latency.toFixed(2) + ' ms' : '—');
    var ai = d.ai || {};
    text($('ai-provider'), ai.provider || '—');
    badge($('ai-status'), ai.status, label(ai.status || 'unknown'));
    var detail = [];
    if (ai.cache) { detail.push('cache: ' + ai.cache); }
    if (ai.message) { detail.push(ai.message); }
    text($('ai-detail'), detail.join(' · '));
    // No database configured is a normal setup here, not a warning.
    badge($('database'), d.database === 'not_configured' ? 'none' : d.database, label(d.database || 'unknown'));

    var banner = $('banner-degraded');
    if (rs === 'connected') {
      show(banner, false);
    } else if (rs === 'not_configured') {
      text(banner, 'Mode dégradé : Redis n\u2019est pas configuré (REDIS_URL ou REDIS_HOST). Les jobs roulent en direct, la modération sans cache. / ' +
        'Degraded mode: Redis is not configured (set REDIS_URL or REDIS_HOST). Jobs run in-process, moderation bypasses the cache.');
      show(banner, true);
    } else {
      text(banner, 'Mode dégradé / Degraded mode — Redis ' + label(rs) + (d.redis.message ? ' : ' + d.redis.message : '') +
        '. Les jobs roulent en direct et la modération contourne le cache jusqu\u2019au retour de Redis. / ' +
        'Jobs run in-process and moderation bypasses the cache until Redis is back.');
      show(banner, true);
    }
  }

  function renderQueues(snap) {
    text($('queues-prefix'), snap.prefix ? 'préfixe / prefix « ' + snap.prefix + ' »' : '');
    var rows = [];
    (snap.queues || []).forEach(function (q) {
      var c = q.counts || {};
      var tr = document.createElement('tr');
      tr.setAttribute('data-queue', String(q.queue));
      var cells = [
        ['queue', cell('th', q.queue)],
        ['waiting', cell('td', num(c.waiting), 'num')],
        ['active', cell('td', num(c.active), 'num')],
        ['delayed', cell('td', num(c.delayed), 'num')],
        ['prioritized', cell('td', num(c.prioritized), 'num')],
        ['completed', cell('td', num(c.completed), 'num')],
        ['failed', cell('td', num(c.failed), 'num' + (c.failed > 0 ? ' bad' : ''))],
        ['paused', cell('td', q.paused ? 'oui / yes' : 'non / no', q.paused ? 'warn' : '')],
        ['workers', cell('td', typeof q.workers === 'number' ? num(q.workers) : '?', 'num')],
        ['active_without_lock', cell('td', num(q.active_without_lock), 'num' + (q.active_without_lock > 0 ? ' bad' : ''))],
        ['oldest_waiting', cell('td', age(q.oldest_waiting_age_seconds), 'num')]
      ];
      cells.forEach(function (p) {
        p[1].setAttribute('data-col', p[0]);
        tr.appendChild(p[1]);
      });
      cells[0][1].setAttribute('scope', 'row');
      if (typeof q.workers !== 'number' && snap.workers_error) { cells[8][1].title = snap.workers_error; }
      if (q.active_checked) { cells[9][1].title = 'sur / of ' + q.active_checked + ' active checked'; }
      rows.push(tr);
    });
    $('queues-body').replaceChildren.apply($('queues-body'), rows);
  }

  var MOD_ROWS = [
    ['hits', 'Succès cache / Hits', num],
    ['misses', 'Échecs cache / Misses', num],
    ['bypasses', 'Sans Redis / Bypasses', num],
    ['errors', 'Erreurs fournisseur / Provider errors', num],
    ['hit_rate', 'Taux de succès / Hit rate', pct]
  ];

  function renderModeration(s) {
    var info = [s.provider, s.model, s.ttl ? 'TTL ' + s.ttl : '', s.redis ? 'Redis: ' + s.redis : ''].filter(Boolean);
    text($('moderation-info'), info.join(' · '));
    var local = s.local || {};
    var fleet = s.fleet || null;
    var rows = MOD_ROWS.map(function (m) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-metric', m[0]);
      var th = cell('th', m[1]);
      th.setAttribute('scope', 'row');
      var l = cell('td', m[2](local[m[0]]), 'num');
      l.setAttribute('data-col', 'local');
      var f = cell('td', fleet ? m[2](fleet[m[0]]) : '—', 'num');
      f.setAttribute('data-col', 'fleet');
      tr.appendChild(th); tr.appendChild(l); tr.appendChild(f);
      return tr;
    });
    $('moderation-body').replaceChildren.apply($('moderation-body'), rows);
    message($('moderation-msg'), fleet ? '' : (s.fleet_error ? 'Flotte / Fleet: ' + s.fleet_error : ''));
  }

  // ---- polling ---------------------------------------------------------
  var timer = null;
  var running = false;
  var again = false; // a poll was asked for while one ran

  function poll() {
    if (running) { again = true; return; }
    running = true;
    again = false;
    clearTimeout(timer);
    var errors = [];
    var token = getToken();
    var tasks = [
      getJSON('/api/health').then(renderHealth).catch(function (e) {
        $('health').classList.add('stale');
        errors.push('/api/health : ' + errText(e));
      })
    ];
    if (token) {
      tasks.push(getJSON('/api/admin/queue/stats', token).then(function (r) {
        if (adminAnswer(r, token, $('queues-msg'), $('queues'))) { renderQueues(r.body); }
      }).catch(function (e) {
        $('queues').classList.add('stale');
        errors.push('/api/admin/queue/stats : ' + errText(e));
      }));
      tasks.push(getJSON('/api/admin/moderation/stats', token).then(function (r) {
        if (adminAnswer(r, token, $('moderation-msg'), $('moderation'))) { renderModeration(r.body); }
      }).catch(function (e) {
        $('moderation').classList.add('stale');
        errors.push('/api/admin/moderation/stats : ' + errText(e));
      }));
    }
    Promise.all(tasks).then(function () {
      var banner = $('banner-error');
      if (errors.length) {
        text(banner, 'Erreur de récupération / Fetch error — ' + errors.join(' ; ') +
          ' — nouvel essai dans ' + (POLL_MS / 1000) + ' s / retrying in ' + (POLL_MS / 1000) + ' s');
        show(banner, true);
      } else {
        show(banner, false);
      }
      text($('updated'), 'Mis à jour / Updated ' + new Date().toLocaleTimeString('fr-CA'));
      document.body.setAttribute('data-polls', String(Number(document.body.getAttribute('data-polls') || 0) + 1));
    }).finally(function () {
      running = false;
      timer = setTimeout(poll, again ? 0 : POLL_MS);
    });
  }

  // ---- start -----------------------------------------------------------
  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('token');
      var t = input.value.trim();
      input.value = '';
      if (!t) { return; }
      setToken(t);
      showAdmin();
      poll();
    });
    $('logout').addEventListener('click', function () { showLogin(''); });
    if (getToken()) { showAdmin(); } else { showLogin(''); }
    poll();
  });
}());
