// Liaison console: plain JavaScript, no framework, no build step.
//
// Everything shown comes from the gateway's own /api, fetched with the
// admin token the user signed in with (kept in this tab's sessionStorage).
// Data only ever reaches the page as text (textContent, text nodes,
// attribute values), never as HTML. Live pages poll every two seconds
// while the tab is visible.
'use strict';

(() => {
  const TOKEN_KEY = 'liaison.token';
  const POLL_MS = 2000;

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    connectors: new Map(), // id → connector, from the last list
    view: null,            // the page shown: {nav, el, refresh, live}
    lastUpdate: 0,         // when a live refresh last succeeded
    offline: false,
  };

  const $ = (sel, root = document) => root.querySelector(sel);

  // ---- DOM building: data is text, always

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = dv;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    add(el, children);
    return el;
  }

  function add(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function replace(el, ...children) {
    el.replaceChildren();
    return add(el, children);
  }

  // link builds an in-console link; every part is encoded.
  function link(parts, ...children) {
    return h('a', { href: '#/' + parts.map(encodeURIComponent).join('/') }, ...children);
  }

  // ---- formatting

  function ago(iso) {
    if (!iso) return '—';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '—';
    const s = Math.round((Date.now() - t) / 1000);
    if (s < 0) return 'in ' + span(-s);
    if (s < 5) return 'just now';
    return span(s) + ' ago';
  }

  // span renders a number of seconds as a short duration.
  function span(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const hr = Math.floor(m / 60);
    if (hr < 48) return hr + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    return Math.floor(hr / 24) + ' d';
  }

  function timeEl(iso) {
    if (!iso) return h('span', { class: 'faint', text: '—' });
    const d = new Date(iso);
    return h('time', { datetime: iso, title: Number.isNaN(d.getTime()) ? iso : d.toLocaleString() }, ago(iso));
  }

  function ms(ns) {
    if (!ns) return '—';
    const v = ns / 1e6;
    return v < 10 ? v.toFixed(1) + ' ms' : Math.round(v) + ' ms';
  }

  const num = (n) => (typeof n === 'number' ? n.toLocaleString() : '0');

  const BADGES = {
    connected: 'ok', delivered: 'ok', passed: 'ok', valid: 'ok',
    paused: 'warn', failed: 'warn', 'half-open': 'warn',
    error: 'bad', dead: 'bad', open: 'bad', invalid: 'bad',
    queued: 'info', upsert: 'grey', delete: 'grey',
    disabled: 'grey', deleted: 'grey',
  };

  function badge(word) {
    return h('span', { class: 'badge badge-' + (BADGES[word] || 'grey'), text: word || 'unknown' });
  }

  function connectorName(id) {
    const c = state.connectors.get(id);
    return c ? c.name : id;
  }

  // ---- the API

  class APIError extends Error {
    constructor(status, issues) {
      super(issues.map((i) => i.diagnostics || i.code).join('; '));
      this.status = status;
      this.issues = issues;
    }
  }

  function issuesOf(data) {
    if (data && data.resourceType === 'OperationOutcome' && Array.isArray(data.issue)) return data.issue;
    return null;
  }

  // api calls the gateway with the admin token. A 401 ends the session.
  async function api(method, path, opts = {}) {
    const headers = { Authorization: 'Bearer ' + state.token };
    let body = opts.body;
    if (body !== undefined) {
      headers['Content-Type'] = opts.contentType || 'application/json';
      if (typeof body !== 'string') body = JSON.stringify(body);
    }
    if (opts.accept) headers.Accept = opts.accept;
    let res;
    try {
      res = await fetch('/api' + path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new APIError(0, [{ severity: 'error', code: 'transient', diagnostics: 'the gateway cannot be reached' }]);
    }
    const text = await res.text();
    const ctype = res.headers.get('Content-Type') || '';
    let data = null;
    if (ctype.includes('json') && text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (res.status === 401) {
      signOut('Your session has ended: sign in again.');
      throw new APIError(401, issuesOf(data) || [{ severity: 'error', code: 'login', diagnostics: 'not signed in' }]);
    }
    if (!res.ok) {
      throw new APIError(res.status, issuesOf(data) || [{ severity: 'error', code: 'exception', diagnostics: res.status + ' ' + res.statusText }]);
    }
    return { status: res.status, data, text, contentType: ctype };
  }

  async function loadConnectors() {
    const { data } = await api('GET', '/external-connectors');
    state.connectors = new Map(data.map((c) => [c.connectorId, c]));
    return data;
  }

  // ---- banners and toasts

  function showError(title, err) {
    if (err instanceof APIError && err.status === 401) return;
    const issues = err instanceof APIError ? err.issues : [{ diagnostics: String(err && err.message || err) }];
    const close = h('button', { class: 'close', type: 'button', 'aria-label': 'Dismiss', text: '×' });
    const el = h('div', { class: 'banner', role: 'alert', id: 'error-banner' },
      h('div', { class: 'banner-body' },
        h('strong', { text: title + (err && err.status ? ' (' + err.status + ')' : '') }),
        h('ul', null, issues.map((i) => h('li', null, i.diagnostics || i.code,
          i.expression && i.expression.length ? h('span', { class: 'mono' }, ' — ' + i.expression.join(', ')) : null)))),
      close);
    close.addEventListener('click', () => el.remove());
    replace($('#banner'), el);
  }

  function clearBanner() { $('#banner').replaceChildren(); }

  function toast(text) {
    const el = h('div', { class: 'toast', role: 'status', text });
    $('#toasts').append(el);
    setTimeout(() => el.remove(), 4000);
  }

  // act runs a button's action with the button disabled, then refreshes.
  async function act(button, what, fn) {
    button.disabled = true;
    try {
      const msg = await fn();
      if (msg) toast(msg);
      clearBanner();
    } catch (err) {
      showError(what, err);
    } finally {
      button.disabled = false;
    }
    if (state.view) await refreshView();
  }

  // ---- sign-in

  // showSignIn shows the sign-in form with a message: an error, or a note
  // (after signing out).
  function showSignIn(message, note) {
    $('#app').hidden = true;
    $('#signin').hidden = false;
    const errEl = $('#signin-error');
    errEl.textContent = message || '';
    errEl.className = note ? 'form-note' : 'form-error';
    errEl.hidden = !message;
    $('#token').value = '';
    $('#token').focus();
  }

  async function signIn(token) {
    const button = $('#signin-button');
    const errEl = $('#signin-error');
    button.disabled = true;
    errEl.hidden = true;
    try {
      const res = await fetch('/api/external-connectors', { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store', credentials: 'omit' });
      if (res.status === 401) throw new Error('That token was not accepted: check it and try again.');
      if (!res.ok) {
        let issues = null;
        try { issues = issuesOf(await res.json()); } catch (e) { issues = null; }
        throw new Error('The gateway answered ' + res.status + (issues ? ': ' + issues.map((i) => i.diagnostics).join('; ') : ''));
      }
      state.token = token;
      sessionStorage.setItem(TOKEN_KEY, token);
      startApp();
    } catch (err) {
      errEl.textContent = err instanceof TypeError ? 'The gateway cannot be reached.' : err.message;
      errEl.className = 'form-error';
      errEl.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message, note) {
    state.token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    state.view = null;
    state.connectors = new Map();
    clearTimeout(pollTimer);
    $('#view').replaceChildren();
    clearBanner();
    showSignIn(message, note);
  }

  function startApp() {
    $('#signin').hidden = true;
    $('#app').hidden = false;
    if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/connectors';
    else route();
    schedulePoll();
  }

  // ---- routing

  const routes = [
    [/^#\/connectors\/?$/, () => connectorsPage()],
    [/^#\/connectors\/([^/]+)$/, (m) => connectorPage(decodeURIComponent(m[1]))],
    [/^#\/records\/?$/, () => recordsPage('', '')],
    [/^#\/records\/([^/]+)\/([^/]+)$/, (m) => recordsPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]))],
    [/^#\/mappings\/?$/, () => mappingsPage()],
    [/^#\/playground(?:\/([^/]+))?$/, (m) => playgroundPage(m[1] ? decodeURIComponent(m[1]) : '')],
  ];

  function route() {
    if (!state.token) return;
    clearBanner();
    let view = null;
    for (const [re, make] of routes) {
      const m = re.exec(location.hash);
      if (m) { view = make(m); break; }
    }
    if (!view) { location.hash = '#/connectors'; return; }
    state.view = view;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === view.nav);
    replace($('#view'), view.el);
    document.title = view.title + ' · Liaison';
    paintLive();
    refreshView();
  }

  // refreshView loads the current page's data again. Each page counts its
  // refreshes, so a slow answer never paints over a newer one.
  async function refreshView() {
    const view = state.view;
    if (!view || !view.refresh) return;
    const seq = (view.seq = (view.seq || 0) + 1);
    try {
      await view.refresh(() => seq === view.seq && state.view === view);
      if (view.live) markLive(true);
    } catch (err) {
      if (state.view !== view) return;
      if (err instanceof APIError && err.status === 0) markLive(false);
      else showError('Could not load ' + view.title.toLowerCase(), err);
    }
  }

  // ---- live updates

  let pollTimer = 0;
  let polling = false;

  function schedulePoll() {
    clearTimeout(pollTimer);
    if (!state.token) return;
    if (document.hidden) { setLive('paused', 'Paused while hidden'); return; }
    pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    if (state.view && state.view.live && !polling) {
      polling = true;
      try { await refreshView(); } finally { polling = false; }
    }
    schedulePoll();
  }

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) schedulePoll();
    else poll();
  });

  function markLive(ok) {
    state.offline = !ok;
    if (ok) state.lastUpdate = Date.now();
    paintLive();
  }

  function setLive(cls, text) {
    const el = $('#live');
    el.className = 'live ' + cls;
    $('#live-text').textContent = text;
  }

  function paintLive() {
    if (!state.token) return;
    if (document.hidden) return setLive('paused', 'Paused while hidden');
    if (state.offline) return setLive('off', 'Gateway unreachable');
    if (!state.view || !state.view.live) return setLive('', 'Live updates on data pages');
    if (!state.lastUpdate) return setLive('', 'Connecting…');
    setLive('on', 'Live · updated ' + ago(new Date(state.lastUpdate).toISOString()));
  }
  setInterval(paintLive, 1000);

  // ---- connectors

  function pageHead(title, sub, ...actions) {
    return h('div', { class: 'page-head' },
      h('div', null, h('h1', { text: title }), sub ? h('p', { text: sub }) : null),
      actions.length ? h('div', { class: 'btn-row' }, actions) : null);
  }

  function stat(label, value, sub, cls) {
    return h('div', { class: 'stat' + (cls ? ' ' + cls : '') },
      h('div', { class: 'label', text: label }), h('div', { class: 'value', text: value }), sub ? h('div', { class: 'sub', text: sub }) : null);
  }

  function pauseButton(c, small) {
    const paused = c.status === 'paused' || c.status === 'disabled';
    const b = h('button', { class: 'btn' + (small ? ' btn-sm' : ''), type: 'button', data: { action: paused ? 'resume' : 'pause' }, text: paused ? 'Resume' : 'Pause' });
    b.addEventListener('click', () => act(b, (paused ? 'Could not resume ' : 'Could not pause ') + c.name, async () => {
      await api('POST', '/external-connectors/' + encodeURIComponent(c.connectorId) + (paused ? '/resume' : '/pause'));
      return (paused ? 'Resumed ' : 'Paused ') + c.name;
    }));
    return b;
  }

  function syncButton(c, small) {
    const b = h('button', { class: 'btn' + (small ? ' btn-sm' : ''), type: 'button', data: { action: 'sync' }, text: 'Sync now' });
    b.addEventListener('click', () => act(b, 'Could not sync ' + c.name, async () => {
      const { data } = await api('POST', '/external-connectors/' + encodeURIComponent(c.connectorId) + '/sync');
      return 'Sync started for ' + c.name + ': ' + (data.retried || 0) + ' retried, ' + (data.replayed || 0) + ' replayed';
    }));
    return b;
  }

  function connectorsPage() {
    const stats = h('div', { class: 'stats' });
    const body = h('div', { class: 'card' }, h('div', { class: 'loading', text: 'Loading connectors…' }));
    const el = h('div', null, pageHead('Connectors', 'Every outside system Liaison keeps in sync, and how its deliveries stand.'), stats, body);
    return {
      nav: 'connectors', title: 'Connectors', el, live: true,
      async refresh(current) {
        const list = await loadConnectors();
        if (!current()) return;
        const sum = (k) => list.reduce((n, c) => n + (c[k] || 0), 0);
        const healthy = list.filter((c) => c.status === 'connected').length;
        replace(stats,
          stat('Connectors', num(list.length), healthy + ' connected'),
          stat('Queued', num(sum('queued')), 'waiting for delivery'),
          stat('Delivered', num(sum('delivered')), 'last 7 days'),
          stat('Failed', num(sum('failed')), 'being retried', sum('failed') ? 'warn' : ''),
          stat('Dead', num(sum('dead')), 'need a replay', sum('dead') ? 'bad' : ''));
        if (!list.length) {
          replace(body, h('div', { class: 'empty' },
            h('strong', { text: 'No connectors yet' }),
            'Register one with ', h('code', { text: 'POST /api/external-connectors' }), ' or a ', h('code', { text: '--config' }), ' file; it shows here at once.'));
          return;
        }
        list.sort((a, b) => a.name.localeCompare(b.name));
        const rows = list.map((c) => h('tr', { data: { connector: c.connectorId } },
          h('td', { class: 'name' }, link(['connectors', c.connectorId], h('strong', { text: c.name })),
            h('div', { class: 'sub-line', title: c.endpoint || '' }, (c.type || '') + ' · ' + (c.endpoint || '')),
            c.lastError ? h('div', { class: 'error-text cell-clip last-error', title: c.lastError, text: c.lastError }) : null),
          h('td', { class: 'status' }, badge(c.status), c.breaker && c.breaker !== 'closed' ? h('div', { class: 'sub-line', text: 'breaker ' + c.breaker }) : null),
          h('td', { class: 'num queued' }, num(c.queued)),
          h('td', { class: 'num delivered' }, num(c.delivered)),
          h('td', { class: 'num failed' }, num(c.failed)),
          h('td', { class: 'num dead' + (c.dead ? ' hot' : '') }, num(c.dead)),
          h('td', { class: 'num' }, c.oldestQueuedAge !== undefined ? span(c.oldestQueuedAge) : '—'),
          h('td', null, timeEl(c.lastSyncAt)),
          h('td', { class: 'actions' }, pauseButton(c, true), syncButton(c, true))));
        replace(body, h('div', { class: 'table-wrap' }, h('table', { id: 'connectors' },
          h('thead', null, h('tr', null,
            h('th', { text: 'Connector · last error' }), h('th', { text: 'Status' }), h('th', { class: 'num', text: 'Queued' }),
            h('th', { class: 'num', text: 'Delivered' }), h('th', { class: 'num', text: 'Failed' }), h('th', { class: 'num', text: 'Dead' }),
            h('th', { class: 'num', text: 'Oldest queued' }), h('th', { text: 'Last sync' }), h('th', null))),
          h('tbody', null, rows))));
      },
    };
  }

  // ---- one connector

  function connectorPage(id) {
    const head = h('div', null, h('div', { class: 'loading', text: 'Loading connector…' }));
    const stats = h('div', { class: 'stats' });
    const facts = h('div', { class: 'card' });
    const dead = h('div', { class: 'card' });
    const filter = { state: '' };
    const tabs = h('div', { class: 'tabs', role: 'tablist' });
    const messages = h('div', { class: 'card' });
    const detail = h('div', { class: 'detail', id: 'attempts' });
    let selected = '';
    let connector = null;

    const paintTabs = () => replace(tabs, ['', 'queued', 'failed', 'delivered', 'dead'].map((s) => {
      const b = h('button', { type: 'button', class: filter.state === s ? 'active' : '', data: { state: s || 'all' }, text: s || 'all' });
      b.addEventListener('click', () => { filter.state = s; paintTabs(); refreshView(); });
      return b;
    }));
    paintTabs();

    const select = (mid) => { selected = mid; refreshView(); };

    const el = h('div', null, head, stats,
      h('div', { class: 'section' }, h('div', { class: 'section-head' }, h('div', null, h('h2', { text: 'Dead letters' }),
        h('p', { text: 'Messages the system refused for good, or that ran out of retries. Fix the cause, then replay.' }))), dead),
      h('div', { class: 'section' }, h('div', { class: 'section-head' }, h('div', null, h('h2', { text: 'Messages' }),
        h('p', { text: 'The newest 50; pick one to see its attempts.' })), tabs), messages, detail),
      h('div', { class: 'section' }, h('div', { class: 'section-head' }, h('h2', { text: 'Configuration' })), facts));

    function messageRow(m, withReplay) {
      const tr = h('tr', { class: 'clickable' + (m.id === selected ? ' selected' : ''), data: { message: m.id } },
        h('td', { class: 'mono' }, m.id),
        h('td', null, m.recordType + '/' + m.recordId, h('div', { class: 'sub-line', text: m.op })),
        withReplay ? null : h('td', { class: 'state' }, badge(m.state)),
        h('td', { class: 'num' }, num(m.attempts)),
        h('td', null, timeEl(m.createdAt)),
        withReplay ? null : h('td', null, m.deliveredAt ? timeEl(m.deliveredAt) : m.nextAttemptAt ? h('span', { class: 'muted' }, 'next ', timeEl(m.nextAttemptAt)) : h('span', { class: 'faint', text: '—' })),
        h('td', null, m.lastError ? h('div', { class: 'error-text', text: m.lastError }) : h('span', { class: 'faint', text: '—' })),
        withReplay ? h('td', { class: 'actions' }, replayButton(m)) : null);
      tr.tabIndex = 0;
      tr.addEventListener('click', (e) => { if (!e.target.closest('button')) select(m.id); });
      tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' && e.target === tr) select(m.id); });
      return tr;
    }

    function replayButton(m) {
      const b = h('button', { class: 'btn btn-sm', type: 'button', data: { action: 'replay' }, text: 'Replay' });
      b.addEventListener('click', () => act(b, 'Could not replay message ' + m.id, async () => {
        await api('POST', '/messages/' + encodeURIComponent(m.id) + '/replay');
        selected = m.id;
        return 'Message ' + m.id + ' is queued again';
      }));
      return b;
    }

    function paintHead(c) {
      const replayAll = h('button', { class: 'btn btn-danger', type: 'button', data: { action: 'replay-all' }, disabled: !c.dead, text: 'Replay all dead (' + num(c.dead) + ')' });
      replayAll.addEventListener('click', () => act(replayAll, 'Could not replay the dead letters of ' + c.name, async () => {
        const { data } = await api('POST', '/external-connectors/' + encodeURIComponent(c.connectorId) + '/replay');
        return data.replayed + ' message' + (data.replayed === 1 ? '' : 's') + ' queued again';
      }));
      replace(head,
        h('div', { class: 'crumbs' }, link(['connectors'], 'Connectors'), ' / ', c.name),
        h('div', { class: 'page-head' },
          h('div', null, h('div', { class: 'title-line' }, h('h1', { text: c.name }), h('span', { class: 'status', id: 'connector-status' }, badge(c.status))),
            h('p', null, (c.type || '') + ' · ' + (c.endpoint || ''))),
          h('div', { class: 'btn-row' }, pauseButton(c), syncButton(c), replayAll)),
        c.lastError ? h('div', { class: 'banner warn' }, h('div', { class: 'banner-body' }, h('strong', { text: 'Last error' }), c.lastError)) : null);
      replace(stats,
        stat('Queued', num(c.queued), 'waiting for delivery'),
        stat('Delivered', num(c.delivered), 'last 7 days'),
        stat('Failed', num(c.failed), 'being retried', c.failed ? 'warn' : ''),
        stat('Dead', num(c.dead), 'need a replay', c.dead ? 'bad' : ''),
        stat('Oldest queued', c.oldestQueuedAge !== undefined ? span(c.oldestQueuedAge) : '—', 'age of the oldest undelivered'),
        stat('Last sync', c.lastSyncAt ? ago(c.lastSyncAt) : '—', c.breaker && c.breaker !== 'closed' ? 'breaker ' + c.breaker : 'breaker closed'));
      const sync = c.sync || {};
      const syncText = [sync.mode || 'push-only', sync.path, sync.interval ? 'every ' + sync.interval : '', sync.subject].filter(Boolean).join(' · ');
      const auth = c.auth && c.auth.scheme ? c.auth.scheme : 'none';
      replace(facts, h('div', { class: 'card-body' }, h('dl', { class: 'facts' },
        h('dt', { text: 'Connector id' }), h('dd', { class: 'mono' }, c.connectorId),
        h('dt', { text: 'Type' }), h('dd', null, c.type || '—'),
        h('dt', { text: 'Endpoint' }), h('dd', { class: 'mono' }, c.endpoint || '—'),
        h('dt', { text: 'Sync' }), h('dd', null, syncText),
        h('dt', { text: 'Resources' }), h('dd', null, (c.resources || []).length ? (c.resources || []).map((r) => h('span', { class: 'tag', text: r })) : '—'),
        h('dt', { text: 'Auth' }), h('dd', null, auth),
        h('dt', { text: 'Registered' }), h('dd', null, timeEl(c.createdAt)))));
    }

    async function paintDetail(current) {
      if (!selected) {
        replace(detail);
        return;
      }
      let m;
      try {
        ({ data: m } = await api('GET', '/messages/' + encodeURIComponent(selected)));
      } catch (err) {
        if (err instanceof APIError && err.status === 404) { selected = ''; replace(detail); return; }
        throw err;
      }
      if (!current()) return;
      const attempts = m.attempts.length
        ? h('div', { class: 'table-wrap' }, h('table', { id: 'attempt-list' },
          h('thead', null, h('tr', null, h('th', { text: '#' }), h('th', { text: 'When' }), h('th', { text: 'HTTP status' }),
            h('th', { class: 'num', text: 'Duration' }), h('th', { text: 'What came back' }))),
          h('tbody', null, m.attempts.map((a, i) => h('tr', null,
            h('td', { class: 'num' }, String(i + 1)),
            h('td', null, timeEl(a.at)),
            h('td', { class: 'http-status' }, a.status ? h('span', { class: 'badge badge-' + (a.status < 300 ? 'ok' : a.status < 500 ? 'bad' : 'warn'), text: String(a.status) }) : h('span', { class: 'faint', text: 'no answer' })),
            h('td', { class: 'num' }, ms(a.durationNs)),
            h('td', null, attemptText(a)))))))
        : h('div', { class: 'empty' }, h('strong', { text: 'No attempts yet' }), 'It is waiting for its turn in its lane.');
      replace(detail, h('div', { class: 'card' },
        h('div', { class: 'detail-head' },
          h('div', null, h('h2', null, 'Message ', h('span', { class: 'mono', text: m.id })),
            h('div', { class: 'sub-line' }, m.recordType + '/' + m.recordId + ' · ' + m.op +
              (m.mapping ? ' · mapping ' + m.mapping + ' ' + m.mappingVersion : '') + ' · key ' + m.idempotencyKey)),
          h('div', { class: 'btn-row' }, h('span', { class: 'state' }, badge(m.state)), m.state === 'dead' ? replayButton(m) : null)),
        attempts,
        m.body ? h('details', { class: 'payload' }, h('summary', { text: 'Payload (' + (m.contentType || 'unknown type') + ', may hold patient data)' }), h('pre', { class: 'code', text: pretty(m.body) })) : null));
    }

    return {
      nav: 'connectors', title: 'Connector', el, live: true,
      async refresh(current) {
        const base = '/messages?connector=' + encodeURIComponent(id);
        let c, d, ms;
        try {
          [{ data: c }, { data: d }, { data: ms }] = await Promise.all([
            api('GET', '/external-connectors/' + encodeURIComponent(id)),
            api('GET', base + '&state=dead&limit=100'),
            api('GET', base + '&limit=50' + (filter.state ? '&state=' + filter.state : '')),
          ]);
        } catch (err) {
          if (!(err instanceof APIError) || err.status !== 404 || !current()) throw err;
          this.live = false; // it is gone: nothing to follow
          replace(el, h('div', { class: 'crumbs' }, link(['connectors'], 'Connectors')),
            h('div', { class: 'card' }, h('div', { class: 'empty' }, h('strong', { text: 'No such connector' }),
              'The gateway has no connector with id ' + id + '; it may have been deleted.')));
          return null;
        }
        if (!current()) return null;
        connector = c;
        this.title = c.name;
        document.title = c.name + ' · Liaison';
        paintHead(c);
        replace(dead, d.messages.length
          ? h('div', { class: 'table-wrap' }, h('table', { id: 'dead-letters' },
            h('thead', null, h('tr', null, h('th', { text: 'Message' }), h('th', { text: 'Record' }), h('th', { class: 'num', text: 'Attempts' }),
              h('th', { text: 'Created' }), h('th', { text: 'Last error' }), h('th', null))),
            h('tbody', null, d.messages.map((m) => messageRow(m, true)))))
          : h('div', { class: 'empty', id: 'no-dead-letters' }, h('strong', { text: 'No dead letters' }), 'Everything this connector refused has been replayed, or nothing was refused.'));
        replace(messages, ms.messages.length
          ? h('div', { class: 'table-wrap' }, h('table', { id: 'messages' },
            h('thead', null, h('tr', null, h('th', { text: 'Message' }), h('th', { text: 'Record' }), h('th', { text: 'State' }),
              h('th', { class: 'num', text: 'Attempts' }), h('th', { text: 'Created' }), h('th', { text: 'Delivered / next' }), h('th', { text: 'Last error' }))),
            h('tbody', null, ms.messages.map((m) => messageRow(m, false)))))
          : h('div', { class: 'empty' }, h('strong', { text: filter.state ? 'No ' + filter.state + ' messages' : 'No messages yet' }),
            'Record changes for the resources this connector takes appear here.'));
        await paintDetail(current);
        return connector;
      },
    };
  }

  function attemptText(a) {
    const parts = [];
    if (a.error) parts.push(h('div', { class: 'error-text', text: a.error }));
    const issues = a.outcome ? issuesOf(a.outcome) : null;
    if (issues) {
      parts.push(h('ul', { class: 'outcome' }, issues.map((i) => h('li', null,
        h('span', { class: 'mono' }, (i.severity || '') + ' ' + (i.code || '') + ': '), i.diagnostics || '',
        i.expression && i.expression.length ? h('span', { class: 'mono' }, ' (' + i.expression.join(', ') + ')') : null))));
    } else if (a.response) {
      parts.push(h('div', { class: 'sub-line', text: a.response.slice(0, 300) }));
    }
    if (!parts.length) parts.push(h('span', { class: 'muted', text: a.status && a.status < 300 ? 'accepted' : '—' }));
    return parts;
  }

  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  // ---- records

  function recordsPage(type, id) {
    const typeIn = h('input', { id: 'record-type', type: 'text', list: 'record-types', value: type || 'Patient', spellcheck: 'false', required: true });
    const idIn = h('input', { id: 'record-id', type: 'text', value: id, spellcheck: 'false', placeholder: 'e.g. MRN-1001', required: true });
    const types = h('datalist', { id: 'record-types' }, ['Patient', 'Appointment', 'Immunization'].map((t) => h('option', { value: t })));
    const form = h('form', { class: 'card card-body lookup', id: 'record-form' },
      h('div', { class: 'field' }, h('label', { for: 'record-type', text: 'Record type' }), typeIn, types),
      h('div', { class: 'field' }, h('label', { for: 'record-id', text: 'Record id' }), idIn),
      h('button', { class: 'btn btn-primary', id: 'record-lookup', type: 'submit', text: 'Look up' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const t = typeIn.value.trim();
      const i = idIn.value.trim();
      if (!t || !i) return;
      const hash = '#/records/' + encodeURIComponent(t) + '/' + encodeURIComponent(i);
      if (location.hash === hash) refreshView(); else location.hash = hash;
    });
    const result = h('div', { class: 'section', id: 'record' });
    const el = h('div', null, pageHead('Records', 'The HMS side\'s view of a resource, and where it stands at every connector that takes it.'), form, result);
    if (!id) {
      replace(result, h('div', { class: 'card' }, h('div', { class: 'empty' }, h('strong', { text: 'Look up a record' }),
        'Give its type and id, as HMS applications post them to ', h('code', { text: '/api/records/{type}' }), '.')));
      setTimeout(() => idIn.focus(), 0);
    }
    return {
      nav: 'records', title: 'Records', el, live: !!id,
      async refresh(current) {
        if (!id) return;
        let rec;
        try {
          await loadConnectors();
          ({ data: rec } = await api('GET', '/records/' + encodeURIComponent(type) + '/' + encodeURIComponent(id)));
        } catch (err) {
          if (err instanceof APIError && err.status === 404) {
            if (!current()) return;
            replace(result, h('div', { class: 'card' }, h('div', { class: 'empty', id: 'record-missing' }, h('strong', { text: 'No such record' }),
              'The gateway has no ' + type + ' record with id ' + id + '.')));
            return;
          }
          throw err;
        }
        if (!current()) return;
        const source = rec.source === 'hms' ? 'HMS' : connectorName(rec.source);
        replace(result,
          h('div', { class: 'card' }, h('div', { class: 'card-body' },
            h('div', { class: 'title-line' }, h('h2', null, rec.type + '/' + rec.id), rec.deleted ? badge('deleted') : null),
            h('dl', { class: 'facts' },
              h('dt', { text: 'Version' }), h('dd', { id: 'record-version' }, String(rec.version)),
              h('dt', { text: 'Last changed by' }), h('dd', null, source),
              h('dt', { text: 'Updated' }), h('dd', null, timeEl(rec.updatedAt)),
              h('dt', { text: 'Content hash' }), h('dd', { class: 'mono', title: rec.hash }, (rec.hash || '').slice(0, 16))))),
          h('div', { class: 'section' }, h('div', { class: 'section-head' }, h('div', null, h('h2', { text: 'Sync state' }),
            h('p', { text: 'Its latest message at each connector.' }))),
          h('div', { class: 'card' }, rec.sync.length
            ? h('div', { class: 'table-wrap' }, h('table', { id: 'sync-states' },
              h('thead', null, h('tr', null, h('th', { text: 'Connector' }), h('th', { text: 'State' }), h('th', { text: 'Message' }),
                h('th', { text: 'Updated' }), h('th', { text: 'Last error' }))),
              h('tbody', null, rec.sync.map((s) => h('tr', { data: { connector: s.connector } },
                h('td', null, link(['connectors', s.connector], connectorName(s.connector))),
                h('td', { class: 'state' }, badge(s.state)),
                h('td', { class: 'mono' }, s.messageId),
                h('td', null, timeEl(s.updatedAt)),
                h('td', null, s.lastError ? h('div', { class: 'error-text', text: s.lastError }) : h('span', { class: 'faint', text: '—' })))))))
            : h('div', { class: 'empty' }, h('strong', { text: 'Not sent anywhere' }), 'No connector takes this record type, or it came from the only one that does.'))),
          h('div', { class: 'section' }, h('div', { class: 'card' }, h('details', { class: 'payload' },
            h('summary', { text: 'Record data (patient data)' }), h('pre', { class: 'code', text: JSON.stringify(rec.data, null, 2) })))));
      },
    };
  }

  // ---- mappings

  function mappingsPage() {
    const body = h('div', { class: 'card' }, h('div', { class: 'loading', text: 'Loading mappings…' }));
    const el = h('div', null, pageHead('Mappings', 'The mappings this gateway has loaded. The version is a hash of the file: every message records the one that made it.'), body);
    return {
      nav: 'mappings', title: 'Mappings', el, live: false,
      async refresh(current) {
        const { data } = await api('GET', '/mappings');
        if (!current()) return;
        if (!data.length) {
          replace(body, h('div', { class: 'empty' }, h('strong', { text: 'No mappings loaded' })));
          return;
        }
        replace(body, h('div', { class: 'table-wrap' }, h('table', { id: 'mappings' },
          h('thead', null, h('tr', null, h('th', { text: 'Mapping' }), h('th', { text: 'From → to' }), h('th', { text: 'Resource' }),
            h('th', { text: 'Version' }), h('th', { class: 'num', text: 'Tests' }), h('th', null))),
          h('tbody', null, data.map((m) => {
            const test = h('button', { class: 'btn btn-sm', type: 'button', data: { action: 'test' }, text: 'Run tests', disabled: !m.tests });
            test.addEventListener('click', () => act(test, 'Could not run the tests of ' + m.name, async () => {
              const { data: r } = await api('POST', '/mappings/' + encodeURIComponent(m.name) + '/test');
              if (r.failed) {
                showError(m.name + ': ' + r.failed + ' of ' + (r.passed + r.failed) + ' tests failed',
                  new APIError(0, r.tests.filter((t) => !t.passed).map((t) => ({ diagnostics: t.name + ' (line ' + t.line + '): ' + t.error }))));
                return '';
              }
              return m.name + ': all ' + r.passed + ' tests pass';
            }));
            const open = link(['playground', m.name], 'Open in playground');
            open.className = 'btn btn-sm btn-primary';
            open.dataset.action = 'playground';
            return h('tr', { data: { mapping: m.name } },
              h('td', null, h('strong', { class: 'mono', text: m.name }), m.description ? h('div', { class: 'sub-line', text: m.description }) : null),
              h('td', { class: 'nowrap' }, m.input + ' → ' + m.output),
              h('td', null, m.resource || h('span', { class: 'faint', text: '—' })),
              h('td', { class: 'mono version' }, m.version),
              h('td', { class: 'num' }, String(m.tests)),
              h('td', { class: 'actions' }, test, open));
          })))));
      },
    };
  }

  // ---- playground

  const INPUT_TYPES = { json: 'application/json', xml: 'application/xml', csv: 'text/csv', hl7v2: 'x-application/hl7-v2+er7' };

  function inputType(format, text) {
    if (format === 'fhir') return text.trimStart().startsWith('<') ? 'application/fhir+xml' : 'application/fhir+json';
    return INPUT_TYPES[format] || 'application/octet-stream';
  }

  function playgroundPage(name) {
    const mappingSel = h('select', { id: 'pg-mapping' });
    const exampleSel = h('select', { id: 'pg-example' });
    const meta = h('div', { class: 'pg-meta', id: 'pg-meta' });
    const runBtn = h('button', { class: 'btn btn-primary', id: 'pg-run', type: 'button', text: 'Run' });
    const auto = h('input', { type: 'checkbox', id: 'pg-auto', checked: true });
    const input = h('textarea', { id: 'pg-input', spellcheck: 'false', 'aria-label': 'Input', placeholder: 'Paste an input record here' });
    const issues = h('ul', { class: 'issues', id: 'pg-issues' });
    const output = h('pre', { class: 'code', id: 'pg-output' });
    const outTabs = h('div', { class: 'tabs', id: 'pg-output-format' });
    const trace = h('div', { class: 'trace-wrap', id: 'pg-trace' });
    const status = h('span', { id: 'pg-status' });
    let mappings = [];
    let current = null; // the mapping picked
    let examples = [];
    let outFormat = 'json';
    let runSeq = 0;
    let timer = 0;

    const el = h('div', null,
      pageHead('Playground', 'Run a mapping on an input: its output, the issues found, and which rule made each field. Nothing is stored or sent.'),
      h('div', { class: 'pg-bar' },
        h('div', { class: 'field' }, h('label', { for: 'pg-mapping', text: 'Mapping' }), mappingSel),
        h('div', { class: 'field' }, h('label', { for: 'pg-example', text: 'Example input' }), exampleSel),
        runBtn,
        h('label', { class: 'pg-meta', for: 'pg-auto' }, auto, ' run as I type'),
        meta),
      h('div', { class: 'pg-grid' },
        h('section', { class: 'pane' }, h('div', { class: 'pane-head' }, h('h2', { text: 'Input' }), h('span', { class: 'muted mono', id: 'pg-input-type' })), input),
        h('section', { class: 'pane' }, h('div', { class: 'pane-head' }, h('h2', null, 'Output ', status), outTabs),
          h('div', { class: 'pane-body' }, issues, output)),
        h('section', { class: 'pane' }, h('div', { class: 'pane-head' }, h('h2', { text: 'Explain' }), h('span', { class: 'muted', text: 'output field ← rule ← input' })), trace)));

    mappingSel.addEventListener('change', () => pick(mappingSel.value, true));
    exampleSel.addEventListener('change', () => {
      const ex = examples[Number(exampleSel.value)];
      if (ex) { input.value = ex.input; run(); }
    });
    runBtn.addEventListener('click', () => run());
    input.addEventListener('input', () => {
      if (!auto.checked) return;
      clearTimeout(timer);
      timer = setTimeout(run, 400);
    });

    function paintOutTabs() {
      const fhirOut = current && current.output === 'fhir';
      if (!fhirOut) { replace(outTabs); outFormat = 'json'; return; }
      replace(outTabs, ['json', 'xml'].map((f) => {
        const b = h('button', { type: 'button', class: outFormat === f ? 'active' : '', data: { format: f }, text: f.toUpperCase() });
        b.addEventListener('click', () => { outFormat = f; paintOutTabs(); run(); });
        return b;
      }));
    }

    async function pick(n, user) {
      current = mappings.find((m) => m.name === n) || null;
      if (!current) return;
      if (user) history.replaceState(null, '', '#/playground/' + encodeURIComponent(n));
      mappingSel.value = n;
      replace(meta, current.input + ' → ' + current.output + (current.resource ? ' · ' + current.resource : '') + ' · version ', h('span', { class: 'mono', text: current.version }));
      $('#pg-input-type').textContent = current.input;
      outFormat = 'json';
      paintOutTabs();
      examples = [];
      replace(exampleSel, h('option', { value: '', text: 'Loading…' }));
      try {
        const { data } = await api('GET', '/mappings/' + encodeURIComponent(n) + '/examples');
        if (!current || current.name !== n) return;
        examples = data.examples;
      } catch (err) {
        showError('Could not load the examples of ' + n, err);
      }
      replace(exampleSel, examples.length
        ? examples.map((ex, i) => h('option', { value: String(i), text: ex.name + (ex.fails ? ' (fails)' : '') }))
        : h('option', { value: '', text: 'none in the file' }));
      const first = examples.findIndex((ex) => !ex.fails);
      if (first >= 0) {
        exampleSel.value = String(first);
        input.value = examples[first].input;
      } else {
        input.value = '';
      }
      run();
    }

    function paintIssues(list, ok) {
      replace(issues, list.map((i) => h('li', { class: 'issue ' + (i.severity || 'error') },
        h('span', { class: 'diag' }, h('strong', { text: ok ? 'Valid' : (i.severity || 'error') + ' · ' + (i.code || '') }), ': ', i.diagnostics || ''),
        i.expression && i.expression.length ? h('span', { class: 'where', text: i.expression.join(', ') }) : null)));
    }

    function paintTrace(list) {
      if (!list || !list.length) {
        replace(trace, h('div', { class: 'empty' }, 'No output field was produced.'));
        return;
      }
      // Lines are in the mapping's own file unless a trace says otherwise
      // (a sub-map's).
      const file = list[0].file || '';
      replace(trace,
        h('div', { class: 'trace-file' }, 'Rules of ', h('span', { class: 'mono', text: file })),
        h('table', { class: 'trace' },
          h('thead', null, h('tr', null, h('th', { text: 'Output field' }), h('th', { text: 'Rule · line · input it read' }))),
          h('tbody', null, list.map((t) => h('tr', null,
            h('td', { class: 'path' }, t.output),
            h('td', { class: 'rule' },
              h('span', { class: 'rule-name', text: t.rule }),
              h('span', { class: 'rule-at', title: (t.file || '') + ':' + t.line, text: (t.file && t.file !== file ? t.file : '') + ':' + t.line }),
              h('span', { class: 'inputs', text: (t.input || []).join(', ') || 'no input: a constant' })))))));
    }

    async function run() {
      clearTimeout(timer);
      if (!current) return;
      const seq = ++runSeq;
      const m = current;
      const text = input.value;
      if (!text.trim()) {
        paintIssues([], false);
        output.textContent = '';
        replace(status);
        paintTrace([]);
        return;
      }
      const ctype = inputType(m.input, text);
      replace(status, h('span', { class: 'faint', text: '· running…' }));
      try {
        const { data } = await api('POST', '/mappings/' + encodeURIComponent(m.name) + '/explain', { body: text, contentType: ctype });
        if (seq !== runSeq) return;
        let out = data.output === undefined ? '' : typeof data.output === 'string' ? data.output : JSON.stringify(data.output, null, 2);
        if (outFormat === 'xml' && data.valid) {
          const res = await api('POST', '/translate/' + encodeURIComponent(m.name), { body: text, contentType: ctype, accept: 'application/fhir+xml' });
          if (seq !== runSeq) return;
          out = res.text;
        }
        output.textContent = out || '(no output)';
        replace(status, badge(data.valid ? 'valid' : 'invalid'));
        paintIssues(data.issues.issue || [], data.valid);
        paintTrace(data.trace);
        if (data.records > 1) toast('The input holds ' + data.records + ' records: the first is explained.');
      } catch (err) {
        if (seq !== runSeq || (err instanceof APIError && err.status === 401)) return;
        replace(status, badge('invalid'));
        paintIssues(err instanceof APIError ? err.issues : [{ severity: 'error', code: 'exception', diagnostics: String(err) }], false);
        output.textContent = '(no output: the input cannot be read)';
        paintTrace([]);
      }
    }

    return {
      nav: 'playground', title: 'Playground', el, live: false,
      async refresh(isCurrent) {
        if (mappings.length) return; // loaded once: the page keeps what the user typed
        const { data } = await api('GET', '/mappings');
        if (!isCurrent()) return;
        mappings = data;
        replace(mappingSel, data.map((m) => h('option', { value: m.name, text: m.name })));
        if (!data.length) return;
        const n = data.some((m) => m.name === name) ? name : data[0].name;
        await pick(n, false);
      },
    };
  }

  // ---- start

  $('#signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('#token').value.trim();
    if (token) signIn(token);
  });
  $('#signout').addEventListener('click', () => signOut('Signed out. The token is gone from this tab.', true));
  window.addEventListener('hashchange', route);

  if (state.token) startApp();
  else showSignIn('');
})();
