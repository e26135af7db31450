// Zyeuté admin dashboard. Plain JS, no dependencies, no build step.
// Every value from the server reaches the DOM through textContent (or a
// data-* attribute), never through the HTML parser. Sign-in sends the
// admin token once; the session then lives in an HttpOnly cookie the
// script cannot read, and the CSRF token the server hands back is kept in
// this script's memory only and sent on every POST and DELETE.
'use strict';

(function () {
  var POLL_MS = 3000;
  var TIMEOUT_MS = 8000;
  var API = '/admin/api';
  var STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'];
  var STATE_LABELS = {
    waiting: 'En attente / Waiting', active: 'Actifs / Active', delayed: 'Différés / Delayed',
    prioritized: 'Prioritaires / Prioritized', 'waiting-children': 'Attend ses enfants / Waiting children',
    completed: 'Terminés / Completed', failed: 'Échoués / Failed', unknown: 'Inconnu / Unknown'
  };
  var COUNT_KEYS = { 'waiting-children': 'waiting-children' };

  var $ = ZyUI.$;

  // ---- state -----------------------------------------------------------
  var csrf = '';          // in memory only
  var signedIn = false;
  var route = { view: 'overview' };
  var depth = {};         // queue → [depth samples]
  var hitRate = [];       // moderation hit-rate samples
  var lastOverview = null;

  var U = ZyUI;
  var text = U.text, show = U.show, badge = U.badge, el = U.el, link = U.link, message = U.message, num = U.num, pct = U.pct, age = U.age, ms = U.ms, when = U.when, bytes = U.bytes, pretty = U.pretty, svg = U.svg, sparkline = U.sparkline, bars = U.bars, pushSample = U.pushSample;

  var LABELS = {
    connected: 'connecté / connected', disconnected: 'déconnecté / disconnected',
    not_configured: 'non configuré / not configured', healthy: 'en santé / healthy',
    degraded: 'dégradé / degraded', ok: 'ok', unknown: 'inconnu / unknown'
  };
  function label(s) { return LABELS[s] || String(s); }

  // ---- fetch -----------------------------------------------------------
  // call resolves to {status, body} for any HTTP answer and rejects only
  // when the server could not be reached in time. Background calls
  // (polling) do not count as use of the session.
  function call(method, path, background) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    var headers = { 'Accept': 'application/json' };
    if (method !== 'GET') { headers['X-CSRF-Token'] = csrf; }
    if (background) { headers['X-Background'] = '1'; }
    return fetch(path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
      referrerPolicy: 'no-referrer', redirect: 'error', signal: ctl.signal
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.status === 401 && path.indexOf(API) === 0) { signedOut(body); }
        return { status: res.status, body: body };
      });
    }).finally(function () { clearTimeout(timer); });
  }
  function post(path) { return call('POST', path, false); }

  function errText(e) {
    if (e && e.name === 'AbortError') { return 'pas de réponse en ' + (TIMEOUT_MS / 1000) + ' s / no answer in ' + (TIMEOUT_MS / 1000) + ' s'; }
    return (e && e.message) ? e.message : String(e);
  }
  function bodyError(r) {
    return (r.body && typeof r.body.error === 'string') ? r.body.error : ('HTTP ' + r.status);
  }
  var noticeTimer = null;
  function notice(msg, bad) {
    var n = $('notice');
    n.className = 'banner ' + (bad ? 'error' : 'info');
    message(n, msg);
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { message(n, ''); }, bad ? 15000 : 6000);
  }

  // ---- sign-in -----------------------------------------------------------
  var TOKEN_UNSET_MSG = 'ADMIN_TOKEN n\u2019est pas défini sur le serveur (503). Démarrez-le avec ADMIN_TOKEN=<jeton> (16 caractères ou plus), ' +
    'p. ex. ADMIN_TOKEN=$(openssl rand -hex 24) make run. / ADMIN_TOKEN is not set on the server (503): ' +
    'restart it with ADMIN_TOKEN=<token> (16+ characters), e.g. ADMIN_TOKEN=$(openssl rand -hex 24) make run.';

  function showLogin(msg) {
    signedIn = false;
    csrf = '';
    closeLive();
    message($('login-msg'), msg);
    show($('login'), true);
    show($('signout'), false);
    show($('nav'), false);
    document.querySelectorAll('.view').forEach(function (v) { show(v, false); });
    show($('health'), true);
    $('token').focus();
  }
  // signedOut is called on any 401 of the API.
  function signedOut(body) {
    if (!signedIn) { return; }
    var code = body && body.code;
    showLogin(code === 'expired'
      ? 'Session expirée : reconnectez-vous. / Session expired: sign in again. (' + bodyError({ body: body, status: 401 }) + ')'
      : 'Session terminée : reconnectez-vous. / Signed out: sign in again.');
  }
  function signedInAs(info) {
    signedIn = true;
    csrf = info.csrf || '';
    message($('login-msg'), '');
    show($('login'), false);
    show($('signout'), true);
    show($('nav'), true);
    document.body.setAttribute('data-session', info.backend || '');
    render();
    poll();
  }

  function login(token) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, TIMEOUT_MS);
    return fetch(API + '/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify({ token: token }), credentials: 'same-origin', cache: 'no-store',
      referrerPolicy: 'no-referrer', redirect: 'error', signal: ctl.signal
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (body) {
        if (res.status === 200 && body) { signedInAs(body); return; }
        if (res.status === 503 && body && body.code === 'token_unset') { showLogin(TOKEN_UNSET_MSG); return; }
        if (res.status === 401) {
          showLogin('Jeton refusé (401) : vérifiez ADMIN_TOKEN et réessayez. / Token rejected (401): check ADMIN_TOKEN and try again.');
          return;
        }
        showLogin('Connexion impossible / Sign-in failed (' + res.status + ') : ' + bodyError({ status: res.status, body: body }));
      });
    }).catch(function (e) {
      showLogin('Connexion impossible / Sign-in failed: ' + errText(e));
    }).finally(function () { clearTimeout(timer); });
  }

  function signOut() {
    post(API + '/logout').then(function (r) {
      var warn = r.body && r.body.warning;
      showLogin(warn ? 'Déconnecté ici / Signed out here — ' + warn : 'Déconnecté / Signed out.');
    }).catch(function (e) { notice('Déconnexion impossible / Sign-out failed: ' + errText(e), true); });
  }

  // ---- confirmation ------------------------------------------------------
  function confirmThen(msg, fn) {
    var d = $('confirm');
    text($('confirm-msg'), msg);
    d.returnValue = '';
    d.onclose = function () { if (d.returnValue === 'ok') { fn(); } };
    d.showModal();
    $('confirm-cancel').focus();
  }

  // ---- routing -----------------------------------------------------------
  // #/                      overview
  // #/redis                 Redis panel
  // #/q/<queue>/<state>     jobs of a queue
  // #/q/<queue>/job/<id>    one job
  function parseRoute() {
    var h = location.hash.replace(/^#/, '');
    var p = h.split('/').filter(function (s, i) { return i > 0 || s !== ''; });
    try { p = p.map(decodeURIComponent); } catch (e) { p = []; }
    if (p[0] === 'redis') { return { view: 'redis' }; }
    if (p[0] === 'q' && p[1]) {
      if (p[2] === 'job' && p[3]) { return { view: 'job', queue: p[1], id: p[3] }; }
      var st = STATES.indexOf(p[2]) >= 0 ? p[2] : 'failed';
      var page = Math.max(0, parseInt(p[3] || '0', 10) || 0);
      return { view: 'queue', queue: p[1], state: st, page: page };
    }
    return { view: 'overview' };
  }
  function queueHref(q, state, page) {
    return '#/q/' + encodeURIComponent(q) + '/' + encodeURIComponent(state || 'failed') + (page ? '/' + page : '');
  }
  function jobHref(q, id) { return '#/q/' + encodeURIComponent(q) + '/job/' + encodeURIComponent(id); }
  function qpath(q) { return API + '/queues/' + encodeURIComponent(q); }

  function render() {
    route = parseRoute();
    if (!signedIn) { return; }
    document.querySelectorAll('.view').forEach(function (v) { show(v, v.id === 'view-' + route.view); });
    show($('health'), route.view === 'overview');
    document.querySelectorAll('[data-nav]').forEach(function (a) {
      var on = a.getAttribute('data-nav') === (route.view === 'redis' ? 'redis' : 'overview');
      if (on) { a.setAttribute('aria-current', 'page'); } else { a.removeAttribute('aria-current'); }
    });
    if (route.view === 'queue' || route.view === 'job') { openLive(route.queue); } else { closeLive(); }
    if (route.view === 'queue') { loadQueue(true); }
    if (route.view === 'job') { loadJob(true); }
    if (route.view === 'redis') { loadRedis(); }
  }
  function focusTitle(id) {
    var h = $(id);
    if (h && document.activeElement && document.activeElement.tagName !== 'INPUT') { h.focus(); }
  }

  // ---- live (Server-Sent Events) --------------------------------------
  var live = null;
  var liveRetry = null;
  function setLive(state) {
    var l = $('live');
    show(l, true);
    l.setAttribute('data-live', state);
    text(l, state === 'on' ? '● en direct / live' : '○ hors ligne / offline');
  }
  function closeLive() {
    clearTimeout(liveRetry);
    if (live) { live.es.close(); live = null; }
    show($('live'), false);
  }
  function openLive(q) {
    if (live && live.queue === q) { return; }
    closeLive();
    var es = new EventSource(qpath(q) + '/events');
    live = { queue: q, es: es };
    setLive('off');
    es.addEventListener('ready', function () { setLive('on'); refreshView(); });
    es.addEventListener('job', function (m) {
      var ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      onEvent(ev);
    });
    es.onerror = function () {
      setLive('off');
      if (es.readyState === EventSource.CLOSED) {
        // Refused (signed out, limit reached, server restarting): try
        // again later while the view stays on this queue.
        live = null;
        liveRetry = setTimeout(function () { if (signedIn && route.queue === q) { openLive(q); } }, 5000);
      }
    };
  }
  // refreshView reloads the open view at most every 300 ms, however many
  // events arrive (a busy queue sends thousands a second).
  var pending = null;
  function refreshView() {
    if (pending) { return; }
    pending = setTimeout(function () {
      pending = null;
      if (route.view === 'queue') { loadQueue(false); }
      if (route.view === 'job') { loadJob(false); }
    }, 300);
  }
  function onEvent(ev) {
    var n = Number(document.body.getAttribute('data-events') || 0) + 1;
    document.body.setAttribute('data-events', String(n));
    if (route.view === 'job') {
      if (ev.job_id === route.id) {
        if (ev.event === 'progress' && ev.progress !== undefined) { text($('job-progress'), pretty(ev.progress)); }
        if (STATES.indexOf(ev.event) >= 0) { badge($('job-state'), ev.event, STATE_LABELS[ev.event]); }
        refreshView();
      }
      return;
    }
    refreshView();
  }

  // ---- health (public) ---------------------------------------------------
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

  // panelAnswer handles what every API read may answer; true when the
  // body is data to render.
  function panelAnswer(r, msgEl, section) {
    if (r.status === 401) { return false; }
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

  // ---- overview --------------------------------------------------------
  function renderQueues(ov) {
    lastOverview = ov;
    text($('queues-prefix'), ov.prefix ? 'préfixe / prefix « ' + ov.prefix + ' »' : '');
    var rows = (ov.queues || []).map(function (q) {
      var c = q.counts || {};
      var d = (c.waiting || 0) + (c.active || 0) + (c.delayed || 0) + (c.prioritized || 0);
      depth[q.name] = depth[q.name] || [];
      pushSample(depth[q.name], d);
      var tr = document.createElement('tr');
      tr.setAttribute('data-queue', String(q.name));
      var name = el('th');
      name.setAttribute('scope', 'row');
      name.appendChild(link(queueHref(q.name, c.failed > 0 ? 'failed' : 'waiting'), q.name));
      var failed = el('td', null, 'num' + (c.failed > 0 ? ' bad' : ''));
      if (c.failed > 0) { failed.appendChild(link(queueHref(q.name, 'failed'), num(c.failed))); } else { text(failed, num(c.failed)); }
      var spark = el('td', null, 'spark-cell');
      spark.appendChild(sparkline(depth[q.name], 120, 24));
      var cells = [
        ['queue', name],
        ['waiting', el('td', num(c.waiting), 'num')],
        ['active', el('td', num(c.active), 'num')],
        ['delayed', el('td', num(c.delayed), 'num')],
        ['prioritized', el('td', num(c.prioritized), 'num')],
        ['completed', el('td', num(c.completed), 'num')],
        ['failed', failed],
        ['paused', el('td', q.paused ? 'oui / yes' : 'non / no', q.paused ? 'warn' : '')],
        ['workers', el('td', typeof q.workers === 'number' ? num(q.workers) : '?', 'num')],
        ['oldest_waiting', el('td', age(q.oldest_waiting_age_seconds), 'num')],
        ['active_without_lock', el('td', num(q.active_without_lock), 'num' + (q.active_without_lock > 0 ? ' bad' : ''))],
        ['depth', spark]
      ];
      cells.forEach(function (p) { p[1].setAttribute('data-col', p[0]); tr.appendChild(p[1]); });
      return tr;
    });
    $('queues-body').replaceChildren.apply($('queues-body'), rows);
    if (!rows.length) {
      message($('queues-msg'), 'Aucune file sous ce préfixe / No queue under this prefix yet');
    } else if (ov.errors && ov.errors.length) {
      message($('queues-msg'), ov.errors.join(' ; '));
    }
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
      var th = el('th', m[1]);
      th.setAttribute('scope', 'row');
      var l = el('td', m[2](local[m[0]]), 'num');
      l.setAttribute('data-col', 'local');
      var f = el('td', fleet ? m[2](fleet[m[0]]) : '—', 'num');
      f.setAttribute('data-col', 'fleet');
      tr.appendChild(th); tr.appendChild(l); tr.appendChild(f);
      return tr;
    });
    $('moderation-body').replaceChildren.apply($('moderation-body'), rows);
    message($('moderation-msg'), fleet ? '' : (s.fleet_error ? 'Flotte / Fleet: ' + s.fleet_error : ''));
    var hr = (fleet || local).hit_rate;
    if (typeof hr === 'number') { pushSample(hitRate, Math.round(hr * 1000) / 10); }
    $('moderation-chart').replaceChildren(sparkline(hitRate, 480, 60, 'wide', 100),
      el('span', hitRate.length ? '0–100 % · dernier / last ' + hitRate[hitRate.length - 1] + ' %' : '—', 'detail'));
  }

  // ---- queue view --------------------------------------------------------
  function queueRow(name) {
    var qs = (lastOverview && lastOverview.queues) || [];
    for (var i = 0; i < qs.length; i++) { if (qs[i].name === name) { return qs[i]; } }
    return null;
  }
  function renderQueueHeader() {
    var q = queueRow(route.queue);
    text($('q-title'), 'File / Queue « ' + route.queue + ' »');
    var tabs = STATES.map(function (st) {
      var c = q && q.counts ? q.counts[COUNT_KEYS[st] || st] : undefined;
      var a = link(queueHref(route.queue, st), STATE_LABELS[st] + (typeof c === 'number' ? ' (' + num(c) + ')' : ''));
      a.setAttribute('data-state', st);
      a.className = 'tab';
      if (st === route.state) { a.setAttribute('aria-current', 'true'); }
      return a;
    });
    $('state-tabs').replaceChildren.apply($('state-tabs'), tabs);
    var paused = !!(q && q.paused);
    badge($('q-paused'), paused ? 'degraded' : 'ok', paused ? 'en pause / paused' : 'active / running');
    text($('q-pause'), paused ? 'Reprendre / Resume' : 'Mettre en pause / Pause');
    $('q-pause').setAttribute('data-action', paused ? 'resume' : 'pause');
    text($('q-workers'), q && typeof q.workers === 'number' ? 'workers : ' + q.workers : '');
    show($('bulk-retry'), route.state === 'failed');
    show($('bulk-clean'), route.state === 'completed');
  }
  var searchId = '';
  function loadQueue(first) {
    var q = route.queue;
    renderQueueHeader();
    if (first) { focusTitle('q-title'); loadChart(q); show($('schedulers'), false); loadSchedulers(q, false); }
    var path = qpath(q) + '/jobs?' + (searchId ? 'id=' + encodeURIComponent(searchId)
      : 'state=' + encodeURIComponent(route.state) + '&page=' + route.page + '&size=25');
    call('GET', path, !first).then(function (r) {
      if (route.view !== 'queue' || route.queue !== q) { return; }
      if (!panelAnswer(r, $('q-msg'), $('view-queue'))) { return; }
      renderJobs(r.body);
    }).catch(function (e) { message($('q-msg'), errText(e)); });
  }
  function renderJobs(b) {
    var now = Date.now();
    var rows = (b.jobs || []).map(function (j) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-job', String(j.id));
      var id = el('th');
      id.setAttribute('scope', 'row');
      id.appendChild(link(jobHref(route.queue, j.id), j.id));
      var att = num(j.attempts_made) + (j.attempts ? ' / ' + num(j.attempts) : '');
      [id, el('td', j.name), el('td', age((now - j.timestamp) / 1000), 'num'), el('td', att, 'num'),
        el('td', ms(j.duration_ms), 'num'), el('td', (j.state ? '[' + j.state + '] ' : '') + (j.failed_reason || ''), 'reason')]
        .forEach(function (c) { tr.appendChild(c); });
      return tr;
    });
    $('jobs-body').replaceChildren.apply($('jobs-body'), rows);
    show($('jobs-empty'), !rows.length);
    var pages = b.size ? Math.max(1, Math.ceil(b.total / b.size)) : 1;
    text($('page-info'), searchId ? 'recherche / search « ' + searchId + ' »' :
      'page ' + (route.page + 1) + ' / ' + pages + ' · ' + num(b.total) + ' jobs');
    $('page-prev').disabled = !!searchId || route.page <= 0;
    $('page-next').disabled = !!searchId || route.page + 1 >= pages;
  }
  function loadChart(q) {
    call('GET', qpath(q) + '/metrics?minutes=60', true).then(function (r) {
      if (r.status !== 200 || !r.body) { text($('q-chart-msg'), bodyError(r)); return; }
      var c = r.body.completed, f = r.body.failed;
      // Newest first from the server, the minute in progress in front.
      var rev = function (m) { var x = [m.current || 0].concat(m.per_minute || []).slice(0, 60).reverse(); while (x.length < 60) { x.unshift(0); } return x; };
      var chart = bars([
        { values: rev(c), cls: 'ok', label: 'terminés / completed' },
        { values: rev(f), cls: 'bad', label: 'échoués / failed' }], 600, 120);
      $('q-chart').replaceChildren(el('span', 'max ' + chart.getAttribute('data-max') + ' / min', 'axis'), chart,
        el('span', '← 60 min', 'axis'), el('span', 'maintenant / now →', 'axis right'));
      text($('q-chart-msg'), (c.count || f.count || c.points || f.points)
        ? 'Total : ' + num(c.count) + ' terminés / completed, ' + num(f.count) + ' échoués / failed (vert / green: terminés, rouge / red: échoués)'
        : 'Aucune métrique enregistrée : les workers doivent avoir l\u2019option metrics. / No metrics recorded: workers need the metrics option.');
    });
  }
  // Job schedulers: read-only, soonest next run first (at most 100).
  function loadSchedulers(q, background) {
    call('GET', qpath(q) + '/schedulers', background).then(function (r) {
      if (route.view !== 'queue' || route.queue !== q || r.status === 401) { return; }
      if (r.status !== 200 || !r.body) { show($('schedulers'), true); message($('sched-msg'), bodyError(r)); return; }
      renderSchedulers(r.body);
    }).catch(function (e) { message($('sched-msg'), errText(e)); });
  }
  function renderSchedulers(b) {
    var now = Date.now();
    var rows = (b.schedulers || []).map(function (s) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-scheduler', String(s.id));
      var id = el('th', s.id);
      id.setAttribute('scope', 'row');
      var repeat = s.pattern ? 'cron « ' + s.pattern + ' »' + (s.tz ? ' (' + s.tz + ')' : '')
        : (s.every_ms ? 'chaque / every ' + ms(s.every_ms) : '—');
      var next = s.next ? when(s.next) + (s.next > now ? ' (dans / in ' + age((s.next - now) / 1000) + ')' : ' (dû / due)') : '—';
      var cells = [['id', id], ['name', el('td', s.name || '—')], ['repeat', el('td', repeat)], ['next', el('td', next)],
        ['iterations', el('td', num(s.iteration_count) + (s.limit ? ' / ' + num(s.limit) : ''), 'num')],
        ['end', el('td', s.end_date ? when(s.end_date) : '—')]];
      cells.forEach(function (p) { p[1].setAttribute('data-col', p[0]); tr.appendChild(p[1]); });
      return tr;
    });
    $('sched-body').replaceChildren.apply($('sched-body'), rows);
    text($('sched-total'), b.total > rows.length ? '(' + num(rows.length) + ' / ' + num(b.total) + ')' : '(' + num(b.total) + ')');
    message($('sched-msg'), b.error || '');
    $('schedulers').setAttribute('data-queue', String(b.queue));
    show($('schedulers'), rows.length > 0 || !!b.error);
  }
  function queueAction(action) {
    var q = route.queue;
    post(qpath(q) + '/' + action).then(function (r) {
      if (r.status !== 200) { notice(action + ' : ' + bodyError(r), true); return; }
      var extra = typeof r.body.removed === 'number' ? ' (' + r.body.removed + ')' : (typeof r.body.failed_before === 'number' ? ' (' + r.body.failed_before + ')' : '');
      notice('« ' + q + ' » : ' + action + ' ✓' + extra, false);
      return refreshOverview(false).then(function () { if (route.view === 'queue') { loadQueue(false); } });
    }).catch(function (e) { notice(errText(e), true); });
  }

  // ---- job view ----------------------------------------------------------
  var currentJob = null;
  function loadJob(first) {
    var q = route.queue, id = route.id;
    $('job-back').href = queueHref(q, 'failed');
    if (first) {
      text($('job-title'), 'Job ' + id + ' · « ' + q + ' »');
      focusTitle('job-title');
    }
    call('GET', qpath(q) + '/jobs/' + encodeURIComponent(id), !first).then(function (r) {
      if (route.view !== 'job' || route.id !== id) { return; }
      if (!panelAnswer(r, $('job-msg'), $('view-job'))) { return; }
      renderJob(r.body);
    }).catch(function (e) { message($('job-msg'), errText(e)); });
  }
  function renderJob(j) {
    currentJob = j;
    text($('job-title'), 'Job ' + j.id + ' · ' + j.name + ' · « ' + j.queue + ' »');
    badge($('job-state'), j.state, STATE_LABELS[j.state] || j.state);
    show($('job-retry'), j.state === 'failed' || j.state === 'completed');
    show($('job-promote'), j.state === 'delayed');
    var times = [
      ['Créé / Created', when(j.timestamp)], ['Démarré / Started', when(j.processed_on)],
      ['Fini / Finished', when(j.finished_on)],
      ['Durée / Duration', j.processed_on && j.finished_on ? ms(j.finished_on - j.processed_on) : '—'],
      ['Essais / Attempts', num(j.attempts_made) + (j.attempts ? ' / ' + num(j.attempts) : '') + ' (démarrés / started ' + num(j.attempts_started) + ')'],
      ['Bloqué / Stalled', num(j.stalled_counter)], ['Priorité / Priority', j.priority ? num(j.priority) : '—'],
      ['Worker', j.processed_by || '—']
    ];
    var dl = [];
    times.forEach(function (t) { dl.push(el('dt', t[0]), el('dd', t[1])); });
    $('job-times').replaceChildren.apply($('job-times'), dl);
    var failed = !!(j.failed_reason || (j.stacktrace && j.stacktrace.length));
    show($('job-failure'), failed);
    text($('job-failed-reason'), j.failed_reason || '');
    var st = (j.stacktrace || []).map(function (s, i) {
      var li = el('li');
      var det = el('details');
      if (i === j.stacktrace.length - 1) { det.open = true; }
      det.appendChild(el('summary', 'Essai / Attempt ' + (i + 1) + ' : ' + String(s).split('\n')[0]));
      det.appendChild(el('pre', s));
      li.appendChild(det);
      return li;
    });
    $('job-stack').replaceChildren.apply($('job-stack'), st);
    text($('job-data'), pretty(j.data));
    text($('job-opts'), pretty(j.opts));
    text($('job-progress'), pretty(j.progress));
    text($('job-return'), pretty(j.returnvalue));
    text($('job-log-count'), j.log_count ? '(' + j.log_count + ')' : '');
    $('job-logs').replaceChildren.apply($('job-logs'), (j.logs || []).map(function (l) { return el('li', l); }));
    var pending = j.pending_children || [];
    var hasFlow = !!j.parent || (j.children && j.children.length) || pending.length;
    show($('job-flow'), hasFlow);
    $('job-parent').replaceChildren();
    if (j.parent) {
      $('job-parent').appendChild(document.createTextNode('Parent : '));
      $('job-parent').appendChild(j.parent.queue ? link(jobHref(j.parent.queue, j.parent.id), j.parent.queue + ' / ' + j.parent.id) : el('code', j.parent.key));
    }
    $('job-children').replaceChildren.apply($('job-children'), (j.children || []).map(function (c) {
      var li = childItem(c);
      li.appendChild(el('code', ' → ' + JSON.stringify(c.value)));
      return li;
    }));
    show($('job-children-box'), !!(j.children && j.children.length));
    $('job-pending').replaceChildren();
    addPending(pending, j.pending_cursor, j.pending_truncated);
  }
  // The children not finished yet, a page at a time ("More" asks for the next).
  var pendingCursor = '';
  function childItem(c) {
    var li = el('li');
    li.setAttribute('data-child', c.key);
    li.appendChild(c.queue ? link(jobHref(c.queue, c.id), c.queue + ' / ' + c.id) : el('code', c.key));
    return li;
  }
  function addPending(list, cursor, truncated) {
    list.forEach(function (c) { $('job-pending').appendChild(childItem(c)); });
    if (truncated) { $('job-pending').appendChild(el('li', '… (liste coupée / list cut at ' + list.length + ')', 'detail')); }
    pendingCursor = cursor || '';
    show($('job-pending-box'), $('job-pending').children.length > 0);
    show($('job-pending-more'), !!pendingCursor);
  }
  function morePending() {
    var j = currentJob;
    if (!j || !pendingCursor) { return; }
    call('GET', qpath(j.queue) + '/jobs/' + encodeURIComponent(j.id) + '/children?cursor=' + encodeURIComponent(pendingCursor), false).then(function (r) {
      if (currentJob !== j) { return; }
      if (r.status !== 200) { notice(bodyError(r), true); return; }
      addPending(r.body.pending_children || [], r.body.pending_cursor, r.body.pending_truncated);
    }).catch(function (e) { notice(errText(e), true); });
  }
  function jobAction(action) {
    var j = currentJob;
    if (!j) { return; }
    var path = qpath(j.queue) + '/jobs/' + encodeURIComponent(j.id);
    var p = action === 'remove' ? call('DELETE', path, false) : post(path + '/' + action);
    p.then(function (r) {
      if (r.status !== 200) { notice(action + ' : ' + bodyError(r), true); return; }
      notice('Job ' + j.id + ' : ' + action + ' ✓', false);
      if (action === 'remove') { location.hash = queueHref(j.queue, route.state || 'failed'); return; }
      loadJob(false);
    }).catch(function (e) { notice(errText(e), true); });
  }

  // ---- Redis view --------------------------------------------------------
  function loadRedis() {
    call('GET', API + '/redis', true).then(function (r) {
      if (route.view !== 'redis') { return; }
      if (!panelAnswer(r, $('redis-msg'), $('view-redis'))) { return; }
      renderRedis(r.body);
    }).catch(function (e) { message($('redis-msg'), errText(e)); });
  }
  function renderRedis(b) {
    var out = (b.nodes || []).map(function (n) {
      var box = el('div', null, 'node');
      box.setAttribute('data-node', n.addr || '');
      box.appendChild(el('h3', (n.addr || 'Redis') + ' · ' + (n.role || '?') + ' · v' + (n.version || '?')));
      var mem = el('dd');
      if (n.maxmemory > 0) {
        var m = el('meter');
        m.min = 0; m.max = n.maxmemory; m.value = n.used_memory; m.high = n.maxmemory * 0.9;
        m.setAttribute('aria-label', 'mémoire / memory');
        mem.appendChild(m);
        mem.appendChild(document.createTextNode(' ' + bytes(n.used_memory) + ' / ' + bytes(n.maxmemory)));
      } else {
        text(mem, bytes(n.used_memory) + ' (maxmemory 0 : sans limite / no limit)');
      }
      var rows = [
        ['Mémoire / Memory', mem],
        ['Politique d\u2019éviction / Eviction policy', el('dd', n.maxmemory_policy || '—', n.maxmemory_policy && n.maxmemory_policy !== 'noeviction' ? 'bad' : '')],
        ['Ops/s', el('dd', num(n.ops_per_sec))],
        ['Clients', el('dd', num(n.connected_clients))],
        ['Persistance / Persistence', el('dd', (n.aof_enabled ? 'AOF' : 'AOF off') + ' · save « ' + (n.save || '') + ' »' + (n.last_save_ok ? '' : ' · dernier RDB en échec / last RDB failed'))],
        ['Rôle / Role', el('dd', (n.role || '?') + (n.role === 'master' ? ' · répliques / replicas ' + num(n.connected_replicas) : ' · lien / link ' + (n.master_link_status || '?')))],
        ['Latence / Latency', el('dd', typeof n.latency_ms === 'number' ? n.latency_ms.toFixed(2) + ' ms' : '—')]
      ];
      var dl = el('dl');
      rows.forEach(function (p) { dl.appendChild(el('dt', p[0])); dl.appendChild(p[1]); });
      box.appendChild(dl);
      var warns = el('ul', null, 'warnings');
      (n.warnings || []).forEach(function (w) {
        var li = el('li', null, 'warning');
        li.setAttribute('data-code', w.code);
        li.appendChild(el('strong', '⚠ ' + w.message));
        if (w.fix) { li.appendChild(el('pre', w.fix)); }
        warns.appendChild(li);
      });
      if (!(n.warnings || []).length) { warns.appendChild(el('li', '✓ aucune mauvaise configuration connue / no known misconfiguration', 'good')); }
      box.appendChild(warns);
      return box;
    });
    $('redis-nodes').replaceChildren.apply($('redis-nodes'), out);
  }

  // ---- polling -----------------------------------------------------------
  var timer = null;
  var running = false;

  function refreshOverview(background) {
    return call('GET', API + '/queues', background).then(function (r) {
      if (panelAnswer(r, $('queues-msg'), $('queues'))) { renderQueues(r.body); if (route.view === 'queue') { renderQueueHeader(); } }
    });
  }

  function poll() {
    if (running) { return; }
    running = true;
    clearTimeout(timer);
    var errors = [];
    var tasks = [
      call('GET', '/api/health', true).then(renderHealth).catch(function (e) {
        $('health').classList.add('stale');
        errors.push('/api/health : ' + errText(e));
      })
    ];
    if (signedIn) {
      tasks.push(refreshOverview(true).catch(function (e) {
        $('queues').classList.add('stale');
        errors.push(API + '/queues : ' + errText(e));
      }));
      if (route.view === 'overview') {
        tasks.push(call('GET', API + '/moderation', true).then(function (r) {
          if (panelAnswer(r, $('moderation-msg'), $('moderation'))) { renderModeration(r.body); }
        }).catch(function (e) { errors.push(API + '/moderation : ' + errText(e)); }));
      }
      if (route.view === 'redis') { loadRedis(); }
      if (route.view === 'queue' && !live) { loadQueue(false); }
      if (route.view === 'queue') { loadSchedulers(route.queue, true); }
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
      timer = setTimeout(poll, POLL_MS);
    });
  }

  // ---- start -------------------------------------------------------------
  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('token');
      var t = input.value.trim();
      input.value = '';
      if (t) { login(t); }
    });
    $('signout').addEventListener('click', signOut);
    $('q-pause').addEventListener('click', function () { queueAction($('q-pause').getAttribute('data-action')); });
    $('bulk-retry').addEventListener('click', function () {
      confirmThen('Relancer tous les jobs échoués de « ' + route.queue + ' » ? / Retry every failed job of "' + route.queue + '"?',
        function () { queueAction('retry-failed'); });
    });
    $('bulk-clean').addEventListener('click', function () {
      confirmThen('Supprimer tous les jobs terminés de « ' + route.queue + ' » ? / Remove every completed job of "' + route.queue + '"?',
        function () { queueAction('clean-completed'); });
    });
    $('job-retry').addEventListener('click', function () { jobAction('retry'); });
    $('job-promote').addEventListener('click', function () { jobAction('promote'); });
    $('job-pending-more').addEventListener('click', morePending);
    $('job-remove').addEventListener('click', function () {
      confirmThen('Supprimer le job ' + (currentJob ? currentJob.id : '') + ' ? / Remove this job?', function () { jobAction('remove'); });
    });
    $('search-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      searchId = $('job-search').value.trim();
      loadQueue(false);
    });
    $('page-prev').addEventListener('click', function () { location.hash = queueHref(route.queue, route.state, Math.max(0, route.page - 1)); });
    $('page-next').addEventListener('click', function () { location.hash = queueHref(route.queue, route.state, route.page + 1); });
    window.addEventListener('hashchange', function () { searchId = ''; $('job-search').value = ''; render(); });

    route = parseRoute();
    call('GET', API + '/session', false).then(function (r) {
      if (r.status === 200 && r.body) { signedInAs(r.body); } else { showLogin(''); poll(); }
    }).catch(function () { showLogin(''); poll(); });
  });
}());
