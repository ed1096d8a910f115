/*
 * The plumb dashboard: plain ES2020, no framework, no build step.
 *
 * It runs under a strict Content-Security-Policy (script-src 'self', no
 * inline script or style), and everything it shows comes from the
 * repository or the live system (names, commit subjects, file content), so
 * every node is made with createElement and filled with textContent or
 * setAttribute: data never goes through an HTML parser.
 */
'use strict';

(() => {
  const API = '/api/v1';
  const POLL_MS = 3000;   // how often the current page's data is fetched
  const STALE_MS = 10000; // the live indicator turns amber after this long without an update
  const DEAD_MS = 30000;  // ... and red after this long

  const state = {
    session: null,    // {name, role, csrf} once signed in
    route: { page: 'apps' },
    gen: 0,           // bumped by every navigation and sign-out: late answers for an older page are dropped
    abort: null,      // aborts the requests of the previous generation
    timer: 0,
    busy: false,      // a poll of the current generation is in flight: polls never overlap
    again: false,     // a refresh was asked for while busy: run one as soon as it ends
    lastOk: 0,        // when a poll last succeeded (ms)
    since: Date.now(),// when we started trying: the indicator ages from here until the first success
    lastError: '',
    // The applications list survives navigation so that coming back keeps sort and filter.
    list: { apps: [], rows: new Map(), sort: { key: 'name', dir: 1 }, text: '', chip: 'all' },
    diffMode: readPref('plumb.diffMode', 'unified'),
    page: {},         // per-page state, reset by mount()
  };

  /* --- small helpers ------------------------------------------------------------------------ */

  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'x', title: t}, child, 'text', ...): strings become text nodes (Node.append), never HTML.
  function el(tag, props, ...kids) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value == null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const kid of kids.flat()) if (kid != null && kid !== false) node.append(kid);
    return node;
  }

  function readPref(key, fallback) {
    try { return localStorage.getItem(key) || fallback; } catch { return fallback; }
  }
  function writePref(key, value) {
    try { localStorage.setItem(key, value); } catch { /* private mode: not worth a message */ }
  }

  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  const short = (commit) => (commit || '').slice(0, 12);
  const canAct = () => !!state.session && (state.session.role === 'operator' || state.session.role === 'admin');
  const appPath = (name) => `/applications/${encodeURIComponent(name)}`;
  const appHref = (name) => `#/app/${encodeURIComponent(name)}`;
  const token = (s) => String(s || 'unknown').toLowerCase().replace(/[^a-z0-9]+/g, '-');

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 120) return `${s}s`;
    if (s < 7200) return `${Math.round(s / 60)}m`;
    if (s < 172800) return `${Math.round(s / 3600)}h`;
    return `${Math.round(s / 86400)}d`;
  }
  function relative(iso) {
    if (!iso) return 'never';
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return String(iso);
    const d = Date.now() - t;
    return d < 0 ? `in ${ago(-d)}` : d < 5000 ? 'just now' : `${ago(d)} ago`;
  }
  // A <time> showing "3m ago" with the ISO time (as the API gave it) in its title.
  const when = (iso) => el('time', iso ? { datetime: iso, title: iso } : null, relative(iso));

  function badge(text, kind) {
    return el('span', { class: `badge badge-${token(kind || text)}` }, text || 'Unknown');
  }
  function changesText(c) {
    c = c || {};
    return `+${c.create || 0} ~${c.update || 0} −${c.delete || 0}`;
  }
  // Sync counts are flat (created, ...) today; accept them nested under "counts" too.
  function syncCount(s, key) {
    const v = s[key] ?? (s.counts && s.counts[key]);
    return Number(v) || 0;
  }
  function summaryText(summary) {
    if (summary == null) return '';
    if (typeof summary === 'string') return summary;
    return `${summary.create || 0} to create, ${summary.update || 0} to update, ${summary.delete || 0} to delete`;
  }

  function toast(message, kind = 'info') {
    const node = el('div', { class: `toast toast-${kind}` }, message);
    $('toasts').append(node);
    setTimeout(() => node.remove(), kind === 'error' ? 8000 : 4000);
  }

  /* --- the API ------------------------------------------------------------------------------ */

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // One call to the JSON API. A 401 ends the session in the page (back to the sign-in form) unless
  // opts.signin says the call is part of signing in or out, where a 401 is an answer, not an expiry.
  async function api(method, path, body, opts = {}) {
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal: opts.signal };
    if (method !== 'GET') {
      headers['Content-Type'] = 'application/json';
      if (state.session && state.session.csrf) headers['X-CSRF-Token'] = state.session.csrf;
      if (body !== undefined) init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(API + path, init);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'cannot reach the server');
    }
    let data = null;
    if ((res.headers.get('Content-Type') || '').includes('json')) {
      try { data = await res.json(); } catch { data = null; }
    }
    if (res.status === 401 && !opts.signin) {
      signedOut('Your session has ended. Sign in again.');
      throw new ApiError(401, 'signed out');
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`.trim());
    return data || {};
  }

  /* --- polling and the live indicator --------------------------------------------------------- */

  function newGeneration() {
    state.gen++;
    if (state.abort) state.abort.abort();
    state.abort = new AbortController();
    clearTimeout(state.timer);
    state.timer = 0;
    state.busy = false;
    state.again = false;
  }

  // One poll of the current page, then the next one POLL_MS after it ends (a setTimeout chain, so a
  // slow server never sees requests pile up). Hidden tabs stop the chain; visibilitychange restarts it.
  async function poll() {
    clearTimeout(state.timer);
    state.timer = 0;
    if (!state.session || document.hidden) return;
    if (state.busy) { state.again = true; return; }
    const gen = state.gen;
    const page = pages[state.route.page];
    state.busy = true;
    try {
      await page.load(state.abort.signal, () => gen === state.gen);
      if (gen === state.gen) { state.lastOk = Date.now(); state.lastError = ''; }
    } catch (e) {
      if (gen === state.gen && e.name !== 'AbortError' && e.status !== 401) state.lastError = e.message;
    } finally {
      if (gen === state.gen) {
        state.busy = false;
        updateLive();
        if (state.session) state.timer = setTimeout(poll, state.again ? 0 : POLL_MS);
        state.again = false;
      }
    }
  }
  const refreshNow = () => poll();

  function updateLive() {
    const live = $('live');
    const age = Date.now() - (state.lastOk || state.since);
    const level = age < STALE_MS && state.lastOk ? 'ok' : age < STALE_MS ? 'wait' : age < DEAD_MS ? 'stale' : 'dead';
    live.className = `live live-${level}`;
    live.dataset.state = level;
    $('live-text').textContent = state.lastOk ? `updated ${ago(Date.now() - state.lastOk)} ago` : 'connecting…';
    let title = state.lastOk ? `Last update: ${new Date(state.lastOk).toISOString()}` : 'No update yet';
    if (document.hidden) title += ' (paused while the page is hidden)';
    if (state.lastError) title += ` — last error: ${state.lastError}`;
    live.title = title;
  }

  /* --- sessions ----------------------------------------------------------------------------- */

  function showChrome(signedIn) {
    for (const id of ['nav', 'live', 'user', 'signout']) $(id).hidden = !signedIn;
    $('signin-view').hidden = signedIn;
    $('view').hidden = !signedIn;
    if (signedIn) {
      $('user-name').textContent = state.session.name || '';
      $('user-role').textContent = state.session.role || '';
      $('user-role').className = `role role-${token(state.session.role)}`;
    }
  }

  function signedOut(message) {
    const wasIn = !!state.session;
    state.session = null;
    newGeneration();
    // Forget what the previous user saw: the next one may have another role.
    state.list.apps = [];
    state.list.rows = new Map();
    state.page = {};
    $('view').replaceChildren();
    if ($('confirm').open) $('confirm').close('no');
    showChrome(false);
    $('signin-error').textContent = wasIn ? message || '' : '';
    document.title = 'Sign in · plumb';
    $('token').focus();
  }

  function signedIn(session) {
    state.session = session;
    state.lastOk = 0;
    state.since = Date.now();
    showChrome(true);
    navigate();
  }

  async function submitSignin(event) {
    event.preventDefault();
    const input = $('token');
    const value = input.value.trim();
    if (!value) return;
    const button = $('signin-submit');
    button.disabled = true;
    $('signin-error').textContent = '';
    try {
      const session = await api('POST', '/session', { token: value }, { signin: true });
      input.value = '';
      signedIn(session);
    } catch (e) {
      $('signin-error').textContent = e.status === 401 ? `Sign-in refused: ${e.message}` : `Cannot sign in: ${e.message}`;
      input.select();
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    try { await api('DELETE', '/session', undefined, { signin: true }); } catch { /* signed out either way */ }
    signedOut('');
    $('signin-error').textContent = 'You are signed out.';
  }

  async function boot() {
    try {
      const session = await api('GET', '/session', undefined, { signin: true });
      signedIn(session);
    } catch (e) {
      showChrome(false);
      if (e.status !== 401) {
        $('signin-error').textContent = `Cannot reach plumb (${e.message}). Retrying…`;
        setTimeout(boot, POLL_MS);
      }
      $('token').focus();
    }
  }

  /* --- routing ------------------------------------------------------------------------------ */

  function parseRoute() {
    const hash = location.hash || '#/';
    if (hash.startsWith('#/app/')) {
      let name = hash.slice(6);
      try { name = decodeURIComponent(name); } catch { /* keep it as typed */ }
      return { page: 'app', name };
    }
    if (hash === '#/audit') return { page: 'audit' };
    return { page: 'apps' };
  }

  function navigate(focus = false) {
    state.route = parseRoute();
    newGeneration();
    if (!state.session) return;
    for (const [id, page] of [['nav-apps', 'apps'], ['nav-audit', 'audit']]) {
      if (state.route.page === page) $(id).setAttribute('aria-current', 'page');
      else $(id).removeAttribute('aria-current');
    }
    const view = $('view');
    view.replaceChildren();
    state.page = {};
    pages[state.route.page].mount(view, state.route);
    // Move focus to the new page's heading on navigation so that keyboard and screen reader users follow.
    if (focus) { const h = view.querySelector('h1'); if (h) h.focus(); }
    poll();
  }

  /* --- diffs -------------------------------------------------------------------------------- */

  const ACTION_MARKS = { '+': 'create', '~': 'update', '-': 'delete' };

  // The plan text of `plumb plan` (action lines "~ File /etc/motd: reason  (resource)", each diff
  // indented by four spaces, a closing "Plan: ..." or "No changes." line) or a bare unified diff (a
  // plan action's "diff"). Each line gets a kind; raw is the line exactly as given.
  function parseDiff(text) {
    text = String(text || '');
    const plan = /^(Plan: \d|No changes\.)/m.test(text);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const bodyOf = (raw) => (plan ? (raw.startsWith('    ') ? raw.slice(4) : null) : raw);
    const out = [];
    lines.forEach((raw, i) => {
      const body = bodyOf(raw);
      let kind;
      if (body === null) {
        if (/^(Plan: |No changes\.)/.test(raw)) kind = 'summary';
        else if (/^[+~-] /.test(raw)) kind = `action-${ACTION_MARKS[raw[0]]}`;
        else kind = 'note';
        out.push({ raw, body: raw, kind });
        return;
      }
      const next = i + 1 < lines.length ? bodyOf(lines[i + 1]) || '' : '';
      const prev = out[out.length - 1];
      // "--- " and "+++ " are file headers only as a pair: a removed line "-- x" also starts with "--- ".
      if (body.startsWith('--- ') && next.startsWith('+++ ')) kind = 'file';
      else if (body.startsWith('+++ ') && prev && prev.kind === 'file' && prev.body.startsWith('--- ')) kind = 'file';
      else if (body.startsWith('@@')) kind = 'hunk';
      else if (body[0] === '+') kind = 'add';
      else if (body[0] === '-') kind = 'del';
      else if (body[0] === ' ' || body === '') kind = 'ctx';
      else if (body[0] === '\\') kind = 'meta';
      else kind = 'note'; // "Binary content of ...", "Sensitive content of ... (not shown)"
      out.push({ raw, body, kind });
    });
    return out;
  }

  // Unified: the text exactly as given (the <pre>'s textContent is the text), each line coloured.
  function diffUnified(text) {
    const pre = el('pre', { class: 'diff' });
    const frag = document.createDocumentFragment();
    for (const line of parseDiff(text)) frag.append(el('span', { class: `ln k-${line.kind}` }, `${line.raw}\n`));
    pre.append(frag);
    return pre;
  }

  // Side by side: within each hunk a run of removed lines is paired with the added lines that follow
  // it, row by row; headers, hunk markers and notes span both columns.
  function diffSplit(text) {
    const tbody = el('tbody');
    let oldNo = 0, newNo = 0, dels = [], adds = [];
    const side = (line, kind) => [
      el('td', { class: 'no' }, line ? String(line.no) : ''),
      el('td', { class: `code k-${line ? kind : 'empty'}` }, line ? line.text : ''),
    ];
    const flush = () => {
      for (let i = 0; i < Math.max(dels.length, adds.length); i++) {
        tbody.append(el('tr', null, side(dels[i], 'del'), side(adds[i], 'add')));
      }
      dels = [];
      adds = [];
    };
    for (const line of parseDiff(text)) {
      if (line.kind === 'del') {
        if (adds.length) flush();
        dels.push({ no: oldNo++, text: line.body.slice(1) });
      } else if (line.kind === 'add') {
        adds.push({ no: newNo++, text: line.body.slice(1) });
      } else {
        flush();
        if (line.kind === 'ctx') {
          const t = line.body.slice(1);
          tbody.append(el('tr', null, side({ no: oldNo++, text: t }, 'ctx'), side({ no: newNo++, text: t }, 'ctx')));
          continue;
        }
        const m = line.kind === 'hunk' && /^@@ -(\d+)(?:,\d+)? \+(\d+)/.exec(line.body);
        if (m) { oldNo = Number(m[1]); newNo = Number(m[2]); }
        tbody.append(el('tr', { class: 'full' }, el('td', { colspan: 4, class: `code k-${line.kind}` }, line.body)));
      }
    }
    flush();
    return el('div', { class: 'table-wrap' }, el('table', { class: 'diff-split' },
      el('colgroup', null, el('col', { class: 'c-no' }), el('col'), el('col', { class: 'c-no' }), el('col')), tbody));
  }

  // A plan as /approval gives it: id, summary, who asked, and every action with its diff as fetched.
  function planView(approval) {
    const plan = approval.plan || {};
    const actions = Array.isArray(plan.actions) ? plan.actions : [];
    const meta = el('p', { class: 'plan-meta' }, el('strong', null, `Plan #${approval.id}`));
    if (approval.requested_by) meta.append(` · requested by ${approval.requested_by}`);
    if (approval.created_at) meta.append(' · ', when(approval.created_at));
    const commit = approval.commit || plan.commit;
    if (commit) meta.append(' · commit ', el('code', { title: commit }, short(commit)));
    const list = el('ol', { class: 'plan-actions' });
    for (const a of actions) {
      const head = el('div', { class: 'action-head' }, badge(a.action, `action-${a.action}`), ' ',
        el('span', { class: 'kind' }, a.kind || ''), ' ', el('code', { class: 'path' }, a.path || a.key || ''));
      if (a.sensitive) head.append(' ', el('span', { class: 'tag' }, 'sensitive'));
      if (a.reason) head.append(el('span', { class: 'reason' }, `: ${a.reason}`));
      list.append(el('li', null, head, a.diff ? diffUnified(a.diff) : null));
    }
    if (!actions.length) list.append(el('li', { class: 'muted' }, 'This plan has no actions.'));
    return [meta, el('p', { class: 'plan-summary' }, summaryText(approval.summary ?? plan.summary)), list];
  }

  /* --- the confirmation dialog ---------------------------------------------------------------- */

  // Resolves true when confirmed. A <dialog> rather than window.confirm: it can show the plan.
  function confirmDialog({ title, text, plan, yes, danger }) {
    const dialog = $('confirm');
    if (dialog.open) return Promise.resolve(false); // a second click while one question is asked
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text || '';
    const box = $('confirm-plan');
    box.replaceChildren(...(plan ? planView(plan) : []));
    box.hidden = !plan;
    const yesButton = $('confirm-yes');
    yesButton.textContent = yes || 'Confirm';
    yesButton.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
    return new Promise((resolve) => {
      const listeners = new AbortController();
      const done = (answer) => {
        listeners.abort();
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      const opts = { signal: listeners.signal };
      yesButton.addEventListener('click', () => done(true), opts);
      $('confirm-no').addEventListener('click', () => done(false), opts);
      dialog.addEventListener('close', () => done(false), opts); // Esc, or a sign-out closing it
      dialog.showModal();
      $('confirm-no').focus(); // the safe choice has the focus
    });
  }

  /* --- page: the applications list ------------------------------------------------------------ */

  const STATUS_RANK = { OutOfSync: 0, Unknown: 1, Synced: 2 };
  const HEALTH_RANK = { Degraded: 0, Unknown: 1, Healthy: 2 };
  const SORT_KEYS = {
    name: null, // by name only
    status: (a) => STATUS_RANK[a.sync_status] ?? 3,
    health: (a) => HEALTH_RANK[a.health] ?? 3,
    last_sync: (a) => Date.parse(a.last_sync) || 0,
    drift: (a) => Number(a.drift_events) || 0,
    pending: (a) => Number(a.pending_approval) || 0,
  };
  const CHIPS = [
    ['all', 'All', () => true],
    ['outofsync', 'OutOfSync', (a) => a.sync_status === 'OutOfSync'],
    ['degraded', 'Degraded', (a) => a.health === 'Degraded'],
    ['pending', 'Pending approval', (a) => a.pending_approval != null],
  ];
  const COLUMNS = [ // [class, header, sort key]
    ['name', 'Application', 'name'], ['status', 'Status', 'status'], ['health', 'Health', 'health'],
    ['commit', 'Commit', null], ['subject', 'Subject', null], ['last-sync', 'Last sync', 'last_sync'],
    ['pending', 'Pending', 'pending'], ['drift', 'Drift', 'drift'],
  ];

  const appsPage = {
    mount(view) {
      const L = state.list;
      L.rows = new Map(); // the rows belong to the table made here
      const filter = el('input', {
        id: 'filter', type: 'search', placeholder: 'Filter by name, path, commit or subject',
        'aria-label': 'Filter applications', value: L.text,
      });
      filter.value = L.text;
      filter.addEventListener('input', () => { L.text = filter.value; renderApps(); });
      const chips = el('div', { class: 'chips', role: 'group', 'aria-label': 'Show' });
      for (const [key, label] of CHIPS) {
        chips.append(el('button', { type: 'button', class: 'chip', 'data-chip': key, 'aria-pressed': String(L.chip === key),
          onclick: () => { L.chip = key; renderApps(); } }, label, el('span', { class: 'chip-count' })));
      }
      const headRow = el('tr');
      for (const [cls, label, key] of COLUMNS) {
        const th = el('th', { scope: 'col', class: `col-${cls}` });
        if (key) {
          th.dataset.sort = key;
          th.append(el('button', { type: 'button', class: 'sort', onclick: () => {
            L.sort = L.sort.key === key ? { key, dir: -L.sort.dir } : { key, dir: 1 };
            renderApps();
          } }, label, el('span', { class: 'sort-mark', 'aria-hidden': 'true' })));
        } else {
          th.textContent = label;
        }
        headRow.append(th);
      }
      const tbody = el('tbody');
      // One listener for the whole table: a click anywhere on a row opens the application.
      tbody.addEventListener('click', (e) => {
        const tr = e.target.closest('tr[data-app]');
        if (tr && !e.target.closest('a, button') && !window.getSelection().toString()) location.hash = appHref(tr.dataset.app);
      });
      view.append(
        el('div', { class: 'page-head' }, el('h1', { tabindex: '-1' }, 'Applications'),
          el('span', { id: 'apps-count', class: 'count', 'aria-live': 'polite' })),
        el('div', { class: 'toolbar' }, filter, chips),
        el('div', { class: 'table-wrap card' }, el('table', { id: 'apps', class: 'data apps' }, el('thead', null, headRow), tbody)),
        el('p', { id: 'apps-empty', class: 'empty', hidden: true }));
      document.title = 'Applications · plumb';
      if (L.apps.length) renderApps(); // what we had, at once, while the first poll runs
    },
    async load(signal, current) {
      const data = await api('GET', '/applications', undefined, { signal });
      if (!current()) return;
      state.list.apps = Array.isArray(data.applications) ? data.applications : [];
      renderApps();
    },
  };

  function makeAppRow(name) {
    const r = { cells: {} };
    r.tr = el('tr', { 'data-app': name });
    for (const [cls] of COLUMNS) {
      const cell = el(cls === 'name' ? 'th' : 'td', { class: cls });
      if (cls === 'name') cell.setAttribute('scope', 'row');
      r.cells[cls] = cell;
      r.tr.append(cell);
    }
    r.cells.name.append(el('a', { href: appHref(name) }, name));
    r.time = el('time');
    r.result = el('span', { class: 'result' });
    r.cells['last-sync'].append(r.time, r.result);
    return r;
  }

  // Fill a row from its application; cells are only touched when the application changed.
  function updateAppRow(r, a) {
    const sig = JSON.stringify(a);
    if (r.sig !== sig) {
      r.sig = sig;
      const c = r.cells;
      const status = badge(a.sync_status, `status-${a.sync_status}`);
      if (a.sync_status === 'OutOfSync') status.title = `changes ${changesText(a.changes)}`;
      c.status.replaceChildren(status);
      c.health.replaceChildren(badge(a.health, `health-${a.health}`));
      if (a.message) c.health.title = a.message; else c.health.removeAttribute('title');
      c.commit.replaceChildren(a.revision_commit ? el('code', { title: `${a.revision || 'default branch'} → ${a.revision_commit}` +
        (a.synced_commit && a.synced_commit !== a.revision_commit ? `\nsynced: ${a.synced_commit}` : '') }, short(a.revision_commit)) : '—');
      c.subject.textContent = a.commit_subject || '';
      c.subject.title = a.commit_subject || '';
      if (a.last_sync) { r.time.setAttribute('datetime', a.last_sync); r.time.title = a.last_sync; }
      else { r.time.removeAttribute('datetime'); r.time.removeAttribute('title'); }
      r.result.textContent = a.last_result ? ` · ${a.last_result}` : '';
      r.result.className = `result result-${token(a.last_result)}`;
      c.pending.replaceChildren(a.pending_approval != null ? el('a', { class: 'badge badge-pending', href: appHref(a.name) }, `plan #${a.pending_approval}`) : '');
      c.drift.textContent = String(Number(a.drift_events) || 0);
      c.drift.className = (Number(a.drift_events) || 0) > 0 ? 'drift has-drift' : 'drift';
    }
    const rel = relative(a.last_sync); // time moves on even when the application does not
    if (r.rel !== rel) { r.rel = rel; r.time.textContent = rel; }
  }

  // Filter, sort, then place the rows: existing rows are reused (keyed by name) and only moved when
  // out of place, so a refresh of 1,000 applications touches only what changed.
  function renderApps() {
    const L = state.list;
    const table = $('apps');
    if (!table) return;
    const text = L.text.trim().toLowerCase();
    const chipTest = (CHIPS.find(([key]) => key === L.chip) || CHIPS[0])[2];
    const matches = (a) => !text || [a.name, a.path, a.destination, a.revision_commit, a.commit_subject, a.message]
      .some((s) => s && String(s).toLowerCase().includes(text));
    const visible = L.apps.filter((a) => chipTest(a) && matches(a));
    const keyOf = SORT_KEYS[L.sort.key];
    visible.sort((a, b) => {
      if (keyOf) { const x = keyOf(a), y = keyOf(b); if (x !== y) return (x < y ? -1 : 1) * L.sort.dir; }
      return collator.compare(a.name, b.name) * (keyOf ? 1 : L.sort.dir);
    });

    const names = new Set(L.apps.map((a) => a.name));
    for (const name of L.rows.keys()) if (!names.has(name)) { L.rows.get(name).tr.remove(); L.rows.delete(name); }
    const tbody = table.tBodies[0];
    const rows = visible.map((a) => {
      let r = L.rows.get(a.name);
      if (!r) { r = makeAppRow(a.name); L.rows.set(a.name, r); }
      updateAppRow(r, a);
      return r.tr;
    });
    if (!tbody.firstChild) {
      const frag = document.createDocumentFragment();
      frag.append(...rows);
      tbody.append(frag);
    } else {
      let cursor = tbody.firstChild;
      for (const tr of rows) {
        if (tr === cursor) cursor = cursor.nextSibling;
        else tbody.insertBefore(tr, cursor);
      }
      while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
    }

    for (const th of table.tHead.rows[0].cells) {
      if (!th.dataset.sort) continue;
      const active = th.dataset.sort === L.sort.key;
      th.setAttribute('aria-sort', active ? (L.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    for (const button of document.querySelectorAll('.chips .chip')) {
      const chip = CHIPS.find(([key]) => key === button.dataset.chip);
      button.setAttribute('aria-pressed', String(L.chip === chip[0]));
      button.lastChild.textContent = ` ${L.apps.filter(chip[2]).length}`;
    }
    const count = `${visible.length} of ${L.apps.length} applications`;
    if ($('apps-count').textContent !== count) $('apps-count').textContent = count; // aria-live: only real changes
    const empty = $('apps-empty');
    empty.hidden = visible.length > 0;
    empty.textContent = L.apps.length ? 'No application matches the filter.' : 'No applications yet.';
  }

  /* --- page: one application ------------------------------------------------------------------ */

  // A section card with a heading; body is where the content goes.
  function section(id, title, ...tools) {
    const body = el('div', { class: 'section-body' });
    const count = el('span', { class: 'count' });
    const node = el('section', { id, class: 'card section', 'aria-labelledby': `${id}-title` },
      el('div', { class: 'section-head' }, el('h2', { id: `${id}-title` }, title), count, el('div', { class: 'tools' }, ...tools)),
      body);
    return { node, body, count };
  }

  const appPage = {
    mount(view, route) {
      const P = state.page;
      P.name = route.name;
      P.sigs = {};
      P.openDrift = new Set();
      P.syncDetails = new Map();
      P.objectFilter = { text: '', status: 'all' };
      const actions = el('div', { class: 'actions' });
      if (canAct()) actions.append(el('button', { id: 'sync-now', class: 'btn btn-primary', type: 'button', onclick: syncNow }, 'Sync now'));

      P.errors = el('section', { id: 'errors', class: 'panel panel-error', role: 'alert', hidden: true });
      P.approval = el('section', { id: 'approval', class: 'panel panel-approval', 'aria-labelledby': 'approval-title', hidden: true });
      P.summary = el('section', { id: 'summary', class: 'card summary', 'aria-label': 'Summary' });

      const objFilter = el('input', { id: 'objects-filter', type: 'search', placeholder: 'Filter objects', 'aria-label': 'Filter objects' });
      objFilter.addEventListener('input', () => { P.objectFilter.text = objFilter.value; filterObjects(); });
      const objStatus = el('select', { id: 'objects-status', 'aria-label': 'Object status' },
        ['all', 'Synced', 'OutOfSync', 'Missing', 'Prune'].map((s) => el('option', { value: s }, s === 'all' ? 'All statuses' : s)));
      objStatus.addEventListener('change', () => { P.objectFilter.status = objStatus.value; filterObjects(); });
      P.objects = section('objects', 'Objects', objFilter, objStatus);

      const modes = el('div', { class: 'segmented', role: 'group', 'aria-label': 'Diff layout' });
      for (const [mode, label] of [['unified', 'Unified'], ['split', 'Side by side']]) {
        modes.append(el('button', { type: 'button', id: `diff-${mode}`, class: 'seg', 'data-mode': mode,
          'aria-pressed': String(state.diffMode === mode),
          onclick: () => { state.diffMode = mode; writePref('plumb.diffMode', mode); P.sigs.diff = null; renderDiff(P.detail); } }, label));
      }
      P.diff = section('diff', 'Diff', modes);
      P.history = section('history', 'History');
      P.drift = section('drift', 'Drift');

      view.append(
        el('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, el('a', { href: '#/' }, 'Applications'), ' / '),
        el('div', { class: 'page-head' }, el('h1', { id: 'app-name', tabindex: '-1' }, route.name), actions),
        el('div', { id: 'app-alert', class: 'alert', role: 'alert', hidden: true }),
        P.errors, P.approval, P.summary, P.objects.node, P.diff.node, P.history.node, P.drift.node);
      document.title = `${route.name} · plumb`;
    },

    async load(signal, current) {
      const P = state.page;
      const base = appPath(P.name);
      const get = (path) => api('GET', base + path, undefined, { signal });
      // The application and its three lists together; a list that fails shows its error in its
      // section without hiding the rest.
      const [detail, objects, history, drift] = await Promise.allSettled([get(''), get('/objects'), get('/history'), get('/drift')]);
      if (!current()) return;
      if (detail.status === 'rejected') {
        if (detail.reason.status !== 404) throw detail.reason;
        P.summary.replaceChildren(el('p', { class: 'empty' }, `There is no application called “${P.name}”. `, el('a', { href: '#/' }, 'All applications')));
        for (const s of [P.objects, P.diff, P.history, P.drift]) s.node.hidden = true;
        P.errors.hidden = P.approval.hidden = true;
        return;
      }
      const a = detail.value;
      P.detail = a;
      for (const s of [P.objects, P.diff, P.history, P.drift]) s.node.hidden = false; // after a 404, it may be back
      renderSummary(a);
      renderErrors(a.errors);
      renderDiff(a);
      renderList(P.objects, objects, 'objects', renderObjects);
      renderList(P.history, history, 'syncs', renderHistory);
      renderList(P.drift, drift, 'events', renderDrift);
      await loadApproval(a, signal, current);
    },
  };

  function renderList(sec, result, field, render) {
    if (result.status === 'rejected') {
      if (result.reason.name === 'AbortError') return;
      state.page.sigs[field] = null;
      sec.body.replaceChildren(el('p', { class: 'form-error' }, `Cannot load: ${result.reason.message}`));
      return;
    }
    const items = Array.isArray(result.value[field]) ? result.value[field] : [];
    const sig = JSON.stringify(items);
    if (state.page.sigs[field] === sig) return; // unchanged: keep the DOM, and with it expanded items and scroll
    state.page.sigs[field] = sig;
    sec.count.textContent = String(items.length);
    render(sec, items);
  }

  function renderSummary(a) {
    const dl = el('dl', { class: 'facts' });
    const fact = (label, ...value) => dl.append(el('div', { class: 'fact' }, el('dt', null, label), el('dd', null, ...value)));
    const status = [badge(a.sync_status, `status-${a.sync_status}`)];
    if (a.sync_status === 'OutOfSync') status.push(' ', el('span', { class: 'muted' }, changesText(a.changes)));
    fact('Status', ...status);
    fact('Health', badge(a.health, `health-${a.health}`));
    fact('Last sync', when(a.last_sync), a.last_result ? ` · ${a.last_result}` : '', a.last_trigger ? ` (${a.last_trigger})` : '');
    fact('Last success', when(a.last_success));
    fact('Revision', el('code', null, a.revision || '(default branch)'));
    fact('Commit', a.revision_commit ? el('code', { title: a.revision_commit }, short(a.revision_commit)) : '—', ' ',
      el('span', { class: 'subject' }, a.commit_subject || ''));
    if (a.synced_commit && a.synced_commit !== a.revision_commit) fact('Synced commit', el('code', { title: a.synced_commit }, short(a.synced_commit)));
    fact('Repository', el('code', null, a.repo || ''), a.path ? [' · path ', el('code', null, a.path)] : '');
    fact('Destination', el('code', null, a.destination || ''));
    const p = a.policy || {};
    fact('Policy', `prune ${p.prune ? 'on' : 'off'} · self-heal ${p.selfHeal ? 'on' : 'off'} · approval ${p.approval || 'auto'}`);
    fact('Drift events', String(Number(a.drift_events) || 0));
    const children = [dl];
    if (a.message) children.unshift(el('p', { class: `message message-${token(a.health)}` }, a.message));
    state.page.summary.replaceChildren(...children);
  }

  // "file:line:col: message" lines, the position in monospace; other lines as they are.
  function renderErrors(text) {
    const P = state.page;
    text = String(text || '');
    if (P.sigs.errors === text) return;
    P.sigs.errors = text;
    P.errors.hidden = !text.trim();
    if (!text.trim()) { P.errors.replaceChildren(); return; }
    const list = el('ul', { class: 'diagnostics' });
    for (const line of text.split('\n').filter((l) => l.trim())) {
      const m = /^(.*?):(\d+):(\d+): ?(.*)$/.exec(line);
      list.append(m ? el('li', null, el('code', { class: 'pos' }, `${m[1]}:${m[2]}:${m[3]}`), ` ${m[4]}`) : el('li', null, line));
    }
    P.errors.replaceChildren(el('h2', null, 'This revision is invalid'),
      el('p', null, 'Nothing from it was applied; plumb keeps the last good revision.'), list);
  }

  function renderDiff(a) {
    const P = state.page;
    if (!a) return;
    const text = String(a.diff || '');
    const sig = `${state.diffMode}\n${text}`;
    if (P.sigs.diff === sig) return;
    P.sigs.diff = sig;
    for (const b of P.diff.node.querySelectorAll('.seg')) b.setAttribute('aria-pressed', String(b.dataset.mode === state.diffMode));
    if (!text.trim()) { P.diff.body.replaceChildren(el('p', { class: 'empty' }, 'No plan yet.')); return; }
    P.diff.body.replaceChildren(state.diffMode === 'split' ? diffSplit(text) : diffUnified(text));
  }

  function renderObjects(sec, objects) {
    const tbody = el('tbody');
    // A cluster's objects have a health (a file has none): a column only where one does.
    const withHealth = objects.some((o) => o.health);
    for (const o of objects) {
      const path = el('td', { class: 'path' }, el('code', { title: o.resource || '' }, o.path || ''));
      if (o.sensitive) path.append(' ', el('span', { class: 'tag' }, 'sensitive'));
      const cells = [path, el('td', { class: 'kind' }, o.kind || ''), el('td', { class: 'status' }, badge(o.status, `object-${o.status}`))];
      if (withHealth) {
        const health = el('td', { class: 'health' }, o.health ? badge(o.health, `health-${o.health}`) : '');
        if (o.health_message) health.title = o.health_message;
        cells.push(health);
      }
      cells.push(el('td', { class: 'action' }, o.action && o.action !== 'none' ? o.action : ''), el('td', { class: 'reason' }, o.reason || ''));
      const tr = el('tr', { 'data-path': o.path || '', 'data-status': o.status || '' }, ...cells);
      tr.dataset.search = `${o.path || ''} ${o.kind || ''} ${o.resource || ''} ${o.reason || ''}`.toLowerCase();
      tbody.append(tr);
    }
    const out = objects.filter((o) => o.status && o.status !== 'Synced').length;
    sec.count.textContent = `${objects.length}${out ? ` · ${out} not synced` : ''}`;
    sec.body.replaceChildren(objects.length
      ? el('div', { class: 'table-wrap' }, el('table', { class: 'data objects' },
        el('thead', null, el('tr', null, ['Path', 'Kind', 'Status', ...(withHealth ? ['Health'] : []), 'Action', 'Reason']
          .map((h) => el('th', { scope: 'col' }, h)))), tbody))
      : el('p', { class: 'empty' }, 'This application manages no objects yet.'));
    filterObjects();
  }

  function filterObjects() {
    const { text, status } = state.page.objectFilter;
    const q = text.trim().toLowerCase();
    for (const tr of state.page.objects.body.querySelectorAll('tbody tr')) {
      tr.hidden = (status !== 'all' && tr.dataset.status !== status) || (q && !tr.dataset.search.includes(q));
    }
  }

  function renderHistory(sec, syncs) {
    const P = state.page;
    if (!syncs.length) { sec.body.replaceChildren(el('p', { class: 'empty' }, 'No syncs yet.')); return; }
    const tbody = el('tbody');
    // A click anywhere on a sync's row opens it, as its #id button does for the keyboard.
    tbody.addEventListener('click', (e) => {
      const tr = e.target.closest('tr[data-sync]');
      if (tr && !e.target.closest('a, button') && !window.getSelection().toString()) tr.querySelector('button').click();
    });
    for (const s of syncs) {
      const open = P.openSync === s.id;
      const toggle = el('button', { type: 'button', class: 'link', 'aria-expanded': String(open),
        onclick: () => toggleSync(s, tbody) }, `#${s.id}`);
      const counts = `+${syncCount(s, 'created')} ~${syncCount(s, 'updated')} −${syncCount(s, 'deleted')}`;
      tbody.append(el('tr', { 'data-sync': s.id, class: open ? 'open' : null },
        el('th', { scope: 'row' }, toggle), el('td', null, when(s.started_at)), el('td', null, s.operation || ''),
        el('td', null, s.trigger || ''), el('td', null, s.actor || ''),
        el('td', null, s.commit ? el('code', { title: s.commit }, short(s.commit)) : ''),
        el('td', { class: 'result' }, badge(s.result || (s.finished_at ? 'unknown' : 'running'), `result-${s.result || 'running'}`)),
        el('td', { class: 'counts' }, counts), el('td', { class: 'error-text' }, s.error || '')));
    }
    sec.body.replaceChildren(el('div', { class: 'table-wrap' }, el('table', { class: 'data history' },
      el('thead', null, el('tr', null, ['Sync', 'Started', 'Operation', 'Trigger', 'Actor', 'Commit', 'Result', 'Changes', 'Error']
        .map((h) => el('th', { scope: 'col' }, h)))), tbody)));
    const openSync = syncs.find((s) => s.id === P.openSync);
    if (openSync) showSyncDetail(openSync, tbody);
  }

  function toggleSync(s, tbody) {
    const P = state.page;
    const row = tbody.querySelector(`tr[data-sync="${Number(s.id)}"]`);
    const wasOpen = P.openSync === s.id;
    for (const tr of tbody.querySelectorAll('tr.sync-detail')) tr.remove();
    for (const tr of tbody.querySelectorAll('tr.open')) { tr.classList.remove('open'); tr.querySelector('button').setAttribute('aria-expanded', 'false'); }
    P.openSync = wasOpen ? null : s.id;
    if (!wasOpen && row) { row.classList.add('open'); row.querySelector('button').setAttribute('aria-expanded', 'true'); showSyncDetail(s, tbody); }
  }

  // The actions of one sync, below its row. A finished sync never changes: fetched once.
  async function showSyncDetail(s, tbody) {
    const P = state.page;
    const row = tbody.querySelector(`tr[data-sync="${Number(s.id)}"]`);
    if (!row) return;
    const cell = el('td', { colspan: 9 }, el('p', { class: 'muted' }, 'Loading…'));
    row.after(el('tr', { class: 'sync-detail' }, cell));
    let detail = P.syncDetails.get(s.id);
    if (!detail) {
      const gen = state.gen;
      try {
        detail = await api('GET', `${appPath(P.name)}/history/${encodeURIComponent(s.id)}`, undefined, { signal: state.abort.signal });
      } catch (e) {
        if (gen === state.gen && e.name !== 'AbortError') cell.replaceChildren(el('p', { class: 'form-error' }, `Cannot load sync #${s.id}: ${e.message}`));
        return;
      }
      if (gen !== state.gen) return;
      if (detail.finished_at) P.syncDetails.set(s.id, detail);
    }
    const actions = Array.isArray(detail.actions) ? detail.actions : [];
    const parts = [];
    if (detail.error) parts.push(el('p', { class: 'form-error' }, detail.error));
    if (!actions.length) parts.push(el('p', { class: 'muted' }, 'This sync changed nothing.'));
    else {
      parts.push(el('table', { class: 'data actions-table' },
        el('thead', null, el('tr', null, ['Object', 'Kind', 'Action', 'Reason', 'Outcome', 'Before → after', 'Error'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', null, actions.map((x) => el('tr', null,
          el('td', null, el('code', null, x.key || '')), el('td', null, x.kind || ''), el('td', null, x.action || ''),
          el('td', null, x.reason || ''), el('td', null, badge(x.outcome || 'unknown', `result-${x.outcome}`)),
          el('td', { class: 'fingerprints' }, el('code', null, x.before || '—'), ' → ', el('code', null, x.after || '—')),
          el('td', { class: 'error-text' }, x.error || ''))))));
    }
    cell.replaceChildren(...parts);
  }

  function renderDrift(sec, events) {
    const P = state.page;
    if (!events.length) { sec.body.replaceChildren(el('p', { class: 'empty' }, 'No drift recorded.')); return; }
    const list = el('div', { class: 'drift-list' });
    for (const ev of events) {
      const details = el('details', { class: 'drift-event', 'data-id': ev.id, open: P.openDrift.has(ev.id) });
      details.addEventListener('toggle', () => { if (details.open) P.openDrift.add(ev.id); else P.openDrift.delete(ev.id); });
      const summary = el('summary', null, when(ev.at), ' ', el('span', { class: 'kind' }, ev.kind || ''), ' ',
        el('code', null, ev.key || ''), ev.note ? el('span', { class: 'note' }, ` — ${ev.note}`) : '');
      let content;
      if (ev.sensitive) content = el('p', { class: 'note-box' }, 'sensitive: not kept');
      else if (ev.content_binary) content = el('p', { class: 'note-box' }, 'binary content: not shown');
      else if (typeof ev.content === 'string' && ev.content !== '') {
        content = [el('pre', { class: 'content' }, ev.content),
          ev.content_truncated ? el('p', { class: 'note-box' }, 'truncated: only the beginning was kept') : null];
      } else content = el('p', { class: 'note-box' }, 'no content kept');
      const facts = el('dl', { class: 'facts compact' },
        el('div', { class: 'fact' }, el('dt', null, 'Expected'), el('dd', null, el('code', null, ev.expected || '(plumb never wrote it)'))),
        el('div', { class: 'fact' }, el('dt', null, 'Observed'), el('dd', null, el('code', null, ev.observed || ''))),
        ev.commit ? el('div', { class: 'fact' }, el('dt', null, 'Commit'), el('dd', null, el('code', { title: ev.commit }, short(ev.commit)))) : null);
      details.append(summary, el('div', { class: 'drift-body' }, facts, content));
      list.append(details);
    }
    sec.body.replaceChildren(list);
  }

  /* --- approvals and sync --------------------------------------------------------------------- */

  // The waiting plan, fetched once per plan id (a plan never changes under its id).
  async function loadApproval(a, signal, current) {
    const P = state.page;
    const pending = a.pending_approval;
    if (pending == null) { P.approval.hidden = true; P.approvalId = null; P.approvalData = null; return; }
    if (P.approvalId === pending && P.approvalData) return;
    let data;
    try {
      data = await api('GET', `${appPath(P.name)}/approval`, undefined, { signal });
    } catch (e) {
      if (!current() || e.name === 'AbortError' || e.status === 401) return;
      // 404: decided in between, and the next poll says so. Otherwise say that a plan waits, unseen.
      P.approval.replaceChildren(el('h2', { id: 'approval-title' }, 'Plan waiting for approval'),
        el('p', { class: 'form-error' }, `Plan #${pending} waits, but it cannot be shown: ${e.message}`));
      P.approval.hidden = e.status === 404;
      return;
    }
    if (!current()) return;
    P.approvalId = pending;
    P.approvalData = data;
    const children = [el('h2', { id: 'approval-title' }, 'Plan waiting for approval'), ...planView(data)];
    if (canAct()) {
      children.push(el('div', { class: 'actions' },
        el('button', { id: 'approve', class: 'btn btn-primary', type: 'button', onclick: () => decide('approve') }, 'Approve…'),
        el('button', { id: 'reject', class: 'btn btn-danger', type: 'button', onclick: () => decide('reject') }, 'Reject…')));
    }
    P.approval.replaceChildren(...children);
    P.approval.hidden = false;
  }

  function alertOnPage(message, kind) {
    const box = $('app-alert');
    if (!box) { toast(message, kind); return; }
    box.textContent = message;
    box.className = `alert alert-${kind}`;
    box.hidden = false;
  }

  // Approve or reject exactly the plan shown in the dialog: it is fetched again as the dialog opens,
  // and its id goes with the decision, so a plan that changed meanwhile is refused by the server (409).
  async function decide(kind) {
    const P = state.page;
    const name = P.name;
    const base = appPath(name);
    let plan;
    try {
      plan = await api('GET', `${base}/approval`);
    } catch (e) {
      if (e.status === 401) return;
      alertOnPage(e.status === 404 ? 'No plan waits for approval any more.' : `Cannot load the plan: ${e.message}`, 'error');
      refreshNow();
      return;
    }
    const verb = kind === 'approve' ? 'Approve' : 'Reject';
    const done = kind === 'approve' ? 'approved' : 'rejected';
    let text = kind === 'approve'
      ? `plumb will apply exactly this plan to ${name}.`
      : `plumb will not apply this plan to ${name}.`;
    if (P.approvalId != null && plan.id !== P.approvalId) text += ` Note: this is plan #${plan.id}, not #${P.approvalId} shown on the page.`;
    const ok = await confirmDialog({ title: `${verb} plan #${plan.id}?`, text, plan, yes: verb, danger: kind === 'reject' });
    if (!ok || state.page !== P) return;
    for (const id of ['approve', 'reject']) if ($(id)) $(id).disabled = true;
    try {
      await api('POST', `${base}/${kind}`, { id: plan.id });
      alertOnPage(`Plan #${plan.id} ${done}.`, 'ok');
    } catch (e) {
      if (e.status === 401) return;
      alertOnPage(e.status === 409 ? `Plan #${plan.id} was not ${done}: it no longer waits (${e.message}).` : `${verb} failed: ${e.message}`, 'error');
    } finally {
      for (const id of ['approve', 'reject']) if ($(id)) $(id).disabled = false;
    }
    P.approvalData = null; // fetch the waiting plan again, whatever it is now
    refreshNow();
  }

  async function syncNow() {
    const P = state.page;
    const ok = await confirmDialog({ title: `Sync ${P.name} now?`,
      text: 'plumb fetches the repository and syncs this application now. With an approval policy, the plan waits for approval instead.',
      yes: 'Sync now' });
    if (!ok || state.page !== P) return;
    const button = $('sync-now');
    button.disabled = true;
    try {
      await api('POST', `${appPath(P.name)}/sync`, {});
      alertOnPage(`Sync of ${P.name} queued.`, 'ok');
    } catch (e) {
      if (e.status !== 401) alertOnPage(`Sync failed: ${e.message}`, 'error');
    } finally {
      button.disabled = false;
    }
    refreshNow();
  }

  /* --- page: audit -------------------------------------------------------------------------- */

  const auditPage = {
    mount(view) {
      view.append(
        el('div', { class: 'page-head' }, el('h1', { tabindex: '-1' }, 'Audit trail')),
        el('div', { id: 'audit-chain', class: 'chain', role: 'status' }, 'Checking the hash chain…'),
        el('div', { class: 'table-wrap card' }, el('table', { id: 'audit', class: 'data audit' },
          el('thead', null, el('tr', null, ['#', 'Time', 'Actor', 'Event', 'Subject', 'Detail'].map((h) => el('th', { scope: 'col' }, h)))),
          el('tbody'))),
        el('p', { id: 'audit-note', class: 'muted' }));
      document.title = 'Audit · plumb';
    },
    async load(signal, current) {
      const P = state.page;
      const data = await api('GET', '/audit?limit=200', undefined, { signal });
      if (!current()) return;
      const entries = (Array.isArray(data.entries) ? data.entries.slice() : []).sort((a, b) => b.id - a.id);
      const newest = entries.length ? entries[0].id : 0;
      // The full count (and the reason of a break) come from /audit/verify: asked again only when the
      // trail grew, not every poll, since it walks the whole chain.
      if (P.verifiedAt !== newest) {
        try {
          P.verify = await api('GET', '/audit/verify', undefined, { signal });
          P.verifiedAt = newest;
        } catch (e) {
          if (e.name === 'AbortError' || e.status === 401) throw e;
          P.verify = null;
        }
        if (!current()) return;
      }
      renderAudit(data, entries);
    },
  };

  function renderAudit(data, entries) {
    const P = state.page;
    const v = P.verify || {};
    const intact = data.intact ?? v.intact;
    const firstBad = Number(data.first_bad_id || v.first_bad_id) || 0;
    const total = v.entries ?? entries.length;
    const chain = $('audit-chain');
    if (intact === false || firstBad) {
      chain.className = 'chain chain-bad';
      chain.replaceChildren(el('strong', null, `✗ Hash chain broken at entry ${firstBad || '?'}`),
        v.problem ? ` — ${v.problem}` : '', '. Entries from there on cannot be trusted.');
    } else if (intact) {
      chain.className = 'chain chain-ok';
      chain.replaceChildren(el('strong', null, '✓ Hash chain intact'), ` · ${total} ${total === 1 ? 'entry' : 'entries'}`);
    } else {
      chain.className = 'chain';
      chain.textContent = 'The chain was not verified.';
    }
    $('audit-note').textContent = entries.length < total ? `Showing the newest ${entries.length} of ${total} entries.` : '';
    const sig = JSON.stringify([firstBad, entries]);
    if (P.auditSig === sig) return;
    P.auditSig = sig;
    const frag = document.createDocumentFragment();
    for (const e of entries) {
      const detail = e.detail == null ? '' : typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail);
      // The first entry that fails is marked; the ones after it cannot be checked either.
      const cls = !firstBad || e.id < firstBad ? null : e.id === firstBad ? 'bad' : 'unverified';
      frag.append(el('tr', { 'data-id': e.id, class: cls },
        el('th', { scope: 'row' }, String(e.id)), el('td', { class: 'time' }, el('time', { datetime: e.at, title: e.at }, e.at || '')),
        el('td', null, e.actor || ''), el('td', null, el('span', { class: 'event' }, e.event || '')),
        el('td', null, e.subject || ''), el('td', { class: 'detail' }, el('code', null, detail))));
    }
    if (!entries.length) frag.append(el('tr', null, el('td', { colspan: 6, class: 'empty' }, 'The audit trail is empty.')));
    $('audit').tBodies[0].replaceChildren(frag);
  }

  const pages = { apps: appsPage, app: appPage, audit: auditPage };

  /* --- start -------------------------------------------------------------------------------- */

  $('signin').addEventListener('submit', submitSignin);
  $('signout').addEventListener('click', signOut);
  window.addEventListener('hashchange', () => navigate(true));
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.session && !state.busy) poll(); // resume the chain at once
    updateLive();
  });
  setInterval(() => { if (state.session) updateLive(); }, 1000);
  boot();
})();
