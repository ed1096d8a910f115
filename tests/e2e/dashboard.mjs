// The dashboard of plumb serve in headless Chromium, driven by Playwright
// (playwright-core). Run by tests/e2e/dashboard.sh, which starts the two
// daemons and passes everything in the environment:
//
//   PLUMB_NODE_MODULES   the node_modules that holds playwright-core
//   PLUMB_SCREENSHOTS    where the screenshots (of the viewport) go
//   DASH_CHROMIUM        the browser (/usr/bin/chromium)
//   DASH_AUTO_URL        http://127.0.0.1:PORT of the daemon with approval auto
//   DASH_PROMPTED_URL    ... and of the one with approval prompted (its first plan already applied)
//   DASH_AUTO_ROOT, DASH_PROMPTED_ROOT   their destination roots
//   DASH_REPO            the repository both serve; DASH_APP its application (hosts/web)
//   DASH_VIEWER_TOKEN, DASH_OPERATOR_TOKEN   tokens of alice (viewer) and bob (operator)
//   DASH_SUBJECT         the HEAD commit's subject (HTML that must stay text)
//   DASH_CSP             the Content-Security-Policy the dashboard must be served with
//
// Prints TAP lines ("ok - ..." / "not ok - ..." with "#" details) and exits 0
// whatever failed (the caller counts them); a crash exits 1.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

const AUTO = env('DASH_AUTO_URL');
const PROMPTED = env('DASH_PROMPTED_URL');
const PROMPTED_ROOT = env('DASH_PROMPTED_ROOT');
const REPO = env('DASH_REPO');
const APP = env('DASH_APP');
const VIEWER = env('DASH_VIEWER_TOKEN');
const OPERATOR = env('DASH_OPERATOR_TOKEN');
const SUBJECT = env('DASH_SUBJECT');
const CSP = env('DASH_CSP');
const SHOTS = env('PLUMB_SCREENSHOTS');
const CHROMIUM = env('DASH_CHROMIUM');
const APP_PATH = `/api/v1/applications/${encodeURIComponent(APP)}`;
const HAND_EDIT = 'edited by hand in the browser test';
const NEW_MOTD = 'welcome to web, release 2';
const NEW_SUBJECT = 'motd: welcome to release 2';

const require = createRequire(import.meta.url);
const { chromium } = require(path.join(env('PLUMB_NODE_MODULES'), 'playwright-core'));

/* --- TAP --------------------------------------------------------------------------------- */

function ok(name) {
  console.log(`ok - ${name}`);
}
function note(...lines) {
  for (const line of lines.join('\n').split('\n')) console.log(`#   ${line}`);
}
function notOk(name, ...details) {
  console.log(`not ok - ${name}`);
  // Playwright's errors carry a long call log: the first lines say what happened.
  note(...details.map((d) => String(d).split('\n').slice(0, 12).join('\n')));
}
// check NAME FN: ok when FN resolves, not ok with the error's message when it throws.
async function check(name, fn) {
  try {
    await fn();
    ok(name);
    return true;
  } catch (e) {
    notOk(name, e && e.message ? e.message : String(e));
    return false;
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const show = (v) => JSON.stringify(v);

// How long anything may take to come true: what the page, the daemons or the browser do is waited
// for, never timed, and a slow or busy machine (two cores, sanitizers, other builds) may take tens
// of seconds where an idle one takes a fraction of one. Only a failure waits this long.
const WAIT_MS = 60000;

// until WHAT FN [MS]: call FN every 100 ms until it returns something truthy (returned), or fail
// after MS saying what was last seen.
async function until(what, fn, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await fn();
      lastError = undefined;
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`no ${what} within ${ms} ms` + (lastError ? `: ${lastError.message}` : `; last seen: ${show(last)}`));
    }
    await sleep(100);
  }
}

/* --- the browser's side ---------------------------------------------------------------------- */

const consoleErrors = []; // console messages of type error, from every page
const pageErrors = [];    // uncaught exceptions in the pages
const errorResponses = []; // every answer of 400 or more, for the details
const shots = [];

function watch(page, label) {
  page.setDefaultTimeout(WAIT_MS); // clicks, fills, navigations, waitForSelector, waitForResponse
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push({ label, text: m.text(), url: m.location().url || '', page: page.url() });
  });
  page.on('pageerror', (e) => pageErrors.push({ label, text: String(e && e.stack || e), page: page.url() }));
  page.on('response', (r) => {
    if (r.status() >= 400) errorResponses.push(`${label}: ${r.request().method()} ${r.url()} -> ${r.status()}`);
  });
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${String(shots.length + 1).padStart(2, '0')}-${name}.png`);
  try {
    // The viewport, not the full page: a list of 1,000 rows makes a page too tall to capture in good time.
    await page.screenshot({ path: file, fullPage: false, timeout: WAIT_MS });
    shots.push({ name, file });
  } catch (e) {
    notOk(`screenshot ${name}`, e.message);
  }
}

const text = (page, selector) => page.evaluate((s) => {
  const node = document.querySelector(s);
  return node ? node.textContent : null;
}, selector);

// Absent, or present and not visible.
async function hiddenOrAbsent(page, selector) {
  const all = page.locator(selector);
  const n = await all.count();
  for (let i = 0; i < n; i++) if (await all.nth(i).isVisible()) return false;
  return true;
}

const rowSelector = (name) => `table#apps tr[data-app="${name.replace(/["\\]/g, '\\$&')}"]`;

// What the list shows of one application (null when it has no row).
function rowState(page, name) {
  return page.evaluate((sel) => {
    const tr = document.querySelector(sel);
    if (!tr) return null;
    const cell = (cls) => { const td = tr.querySelector(`td.${cls}`); return td ? td.textContent.trim() : null; };
    return { status: cell('status'), health: cell('health'), subject: tr.querySelector('td.subject')?.textContent ?? null,
      pending: cell('pending'), drift: cell('drift'), rows: document.querySelectorAll('table#apps tbody tr').length };
  }, rowSelector(name));
}

async function signIn(page, token) {
  await page.fill('#token', token);
  await page.click('#signin-submit');
}

async function openSignin(page, base) {
  const response = await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('form#signin', { state: 'visible' });
  return response;
}

/* --- the API's side (what the page should come to show) --------------------------------------- */

async function apiGet(base, p, token = VIEWER) {
  const r = await fetch(base + p, { headers: { Authorization: `Bearer ${token}` } });
  const body = await r.text();
  if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${body}`);
  return JSON.parse(body);
}

function git(...args) {
  return execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8' });
}

/* --- the scenarios ------------------------------------------------------------------------------ */

async function main(browser) {
  const newContext = () => browser.newContext({ viewport: { width: 1280, height: 860 } });

  // 1. Signing in (viewer, the auto daemon) ------------------------------------------------------
  const ctxA = await newContext();
  const page = await ctxA.newPage();
  watch(page, 'viewer@auto');

  let response;
  await check('the page at / shows the sign-in form (form#signin, #token, #signin-submit), nothing else', async () => {
    response = await openSignin(page, AUTO);
    assert(await page.isVisible('#token') && await page.isVisible('#signin-submit'), 'no #token or #signin-submit');
    assert(await page.locator('table#apps').count() === 0, 'table#apps is there before signing in');
    assert(await hiddenOrAbsent(page, '#signout'), '#signout is visible before signing in');
  });
  await check('GET / carries the Content-Security-Policy header (as documented)', async () => {
    assert(response, 'no response for /');
    const headers = response.headers();
    assert(response.status() === 200, `status ${response.status()}`);
    assert(headers['content-security-policy'] === CSP, `Content-Security-Policy: ${show(headers['content-security-policy'])}`);
  });
  await shot(page, 'signin');

  await check('a wrong token is refused: #signin-error says so, the form stays, no cookie', async () => {
    await signIn(page, 'tok-nobody-000000');
    const error = await until('#signin-error text', async () => (await text(page, '#signin-error')).trim());
    assert(/refused/i.test(error), `#signin-error: ${show(error)}`);
    assert(await page.isVisible('form#signin'), 'the sign-in form is gone');
    assert(await page.locator('table#apps').count() === 0, 'table#apps after a wrong token');
    const cookies = await ctxA.cookies();
    assert(!cookies.some((c) => c.name === 'plumb_session'), `cookies: ${show(cookies)}`);
  });
  await shot(page, 'signin-refused');

  let sessionId = '';
  await check('the viewer token signs in: the list appears, "alice viewer" in the header, #signout shown', async () => {
    await signIn(page, VIEWER);
    await page.waitForSelector('table#apps', { state: 'visible' });
    assert(await hiddenOrAbsent(page, 'form#signin'), 'the sign-in form is still visible');
    const who = [await text(page, '#user-name'), await text(page, '#user-role')];
    assert(who[0] === 'alice' && who[1] === 'viewer', `header: ${show(who)}`);
    assert(await page.isVisible('#signout'), '#signout is not visible');
  });
  await check('the session cookie plumb_session is HttpOnly, SameSite=Strict, Path=/', async () => {
    const cookies = await ctxA.cookies(AUTO);
    const c = cookies.find((x) => x.name === 'plumb_session');
    assert(c, `no plumb_session cookie: ${show(cookies)}`);
    sessionId = c.value;
    assert(c.httpOnly === true && c.sameSite === 'Strict' && c.path === '/', `cookie: ${show({ ...c, value: '…' })}`);
  });
  await check('document.cookie does not hold the session cookie', async () => {
    const dc = await page.evaluate(() => document.cookie);
    assert(!dc.includes('plumb_session') && !(sessionId && dc.includes(sessionId)), `document.cookie: ${show(dc)}`);
  });
  await check('the page keeps no token: #token is emptied, nothing in localStorage or sessionStorage', async () => {
    const kept = await page.evaluate(() => ({
      input: document.getElementById('token').value,
      storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
    }));
    assert(kept.input === '', `#token still holds ${show(kept.input)}`);
    assert(!kept.storage.includes(VIEWER) && !(sessionId && kept.storage.includes(sessionId)), `storage: ${kept.storage}`);
  });

  // 2. The list, and the application page through its link ------------------------------------------
  await check(`the list shows ${APP} (one row), Synced and Healthy`, async () => {
    const s = await until(`${APP} Synced and Healthy`, async () => {
      const r = await rowState(page, APP);
      return r && r.status === 'Synced' && r.health === 'Healthy' ? r : null;
    });
    assert(s.rows === 1, `${s.rows} rows`);
  });
  await shot(page, 'list');

  // 6. A commit subject made of HTML --------------------------------------------------------------
  await check('the HTML commit subject shows as text: td.subject\'s textContent equals it exactly', async () => {
    const subject = await until('a subject', async () => (await rowState(page, APP))?.subject);
    assert(subject === SUBJECT, `td.subject: ${show(subject)}`);
  });
  await check('window.__pwned stays undefined', async () => {
    assert(await page.evaluate(() => typeof window.__pwned) === 'undefined', `window.__pwned = ${await page.evaluate(() => window.__pwned)}`);
  });
  await check('no script or img element inside table#apps (nor any img in the page)', async () => {
    const n = await page.evaluate(() => ({
      inTable: document.querySelectorAll('table#apps script, table#apps img').length,
      img: document.querySelectorAll('img').length,
      scripts: [...document.scripts].map((s) => s.src || s.textContent.slice(0, 60)),
    }));
    assert(n.inTable === 0 && n.img === 0, show(n));
    assert(n.scripts.length === 1 && n.scripts[0].endsWith('/app.js'), `scripts: ${show(n.scripts)}`);
  });

  await check(`the list link opens the application page: #/app/hosts%2Fweb, #app-name "${APP}"`, async () => {
    await page.click(`${rowSelector(APP)} th a`);
    await until('the application page', async () => (await text(page, '#app-name')) === APP);
    const hash = await page.evaluate(() => location.hash);
    assert(hash === `#/app/${encodeURIComponent(APP)}`, `location.hash: ${hash}`);
  });
  await check('#objects lists the managed files /etc/app.conf and /etc/motd, each Synced', async () => {
    const objects = await until('objects', () => page.$$eval('#objects tr[data-path]',
      (trs) => trs.map((tr) => [tr.dataset.path, tr.dataset.status]).sort((a, b) => (a[0] < b[0] ? -1 : 1))
    ).then((o) => (o.length ? o : null)));
    assert(show(objects) === show([['/etc/app.conf', 'Synced'], ['/etc/motd', 'Synced']]), `objects: ${show(objects)}`);
  });
  await check('the application page shows the HTML subject as text as well, and window.__pwned stays undefined', async () => {
    const subject = await until('#summary .subject', () => text(page, '#summary .subject'));
    assert(subject === SUBJECT, `#summary .subject: ${show(subject)}`);
    assert(await page.evaluate(() => typeof window.__pwned === 'undefined' && document.querySelectorAll('img').length === 0),
      'window.__pwned is set or an img appeared');
  });
  await check('#history shows the startup sync, succeeded', async () => {
    await until('a succeeded sync in #history', () => page.evaluate(() =>
      [...document.querySelectorAll('#history tr[data-sync] td.result')].some((td) => td.textContent.trim() === 'succeeded')));
  });
  await check('viewer: no #sync-now, #approve or #reject on the application page', async () => {
    for (const id of ['#sync-now', '#approve', '#reject']) assert(await hiddenOrAbsent(page, id), `${id} is visible`);
  });
  await shot(page, 'app');

  // 3. A hand edit on the prompted daemon, seen live by a viewer -----------------------------------
  const ctxB = await newContext();
  const pb = await ctxB.newPage();
  watch(pb, 'viewer@prompted');
  let loads = 0;
  pb.on('load', () => loads++);
  await openSignin(pb, PROMPTED);
  await signIn(pb, VIEWER);
  await check('prompted: the list shows hosts/web Synced before the hand edit', async () => {
    await until('Synced', async () => (await rowState(pb, APP))?.status === 'Synced');
  });
  await pb.evaluate(() => { window.__sameDocument = 'yes'; });
  const loadsBefore = loads;
  const motd = path.join(PROMPTED_ROOT, 'etc/motd');
  const editedAt = Date.now();
  fs.writeFileSync(motd, `${HAND_EDIT}\n`);
  // Both daemons look at the live state every 10 minutes only: inotify alone explains what is seen here.
  await check('a hand edit shows in the list (OutOfSync or a pending plan), without a reload', async () => {
    const s = await until('OutOfSync or a pending plan in the row', async () => {
      const r = await rowState(pb, APP);
      return r && (r.status === 'OutOfSync' || /plan #\d+/.test(r.pending || '')) ? r : null;
    });
    note(`seen ${Date.now() - editedAt} ms after the edit: ${show(s)}`);
    assert(loads === loadsBefore && await pb.evaluate(() => window.__sameDocument) === 'yes', 'the page was reloaded');
  });
  await check('the row shows both OutOfSync and the waiting plan the API reports', async () => {
    // The daemon says OutOfSync a moment before it has recorded the plan: wait for the API to say both.
    const a = await until('OutOfSync and a waiting plan in the API', async () => {
      const x = await apiGet(PROMPTED, APP_PATH);
      return x.pending_approval != null && x.sync_status === 'OutOfSync' ? x : null;
    });
    await until('the row to agree with the API', async () => {
      const r = await rowState(pb, APP);
      return r && r.status === 'OutOfSync' && r.pending === `plan #${a.pending_approval}` ? r : null;
    });
  });
  // The page polls every 3 s: while it keeps polling, "updated Ns ago" keeps coming back to a small N,
  // where a page that stopped would only count up. Waited for: a busy machine delays a poll now and then.
  await check('#live shows a recent update (data-state ok, "updated Ns ago" with N ≤ 5)', async () => {
    await until('#live with a recent update', async () => {
      const live = await pb.evaluate(() => {
        const node = document.getElementById('live');
        return { hidden: node.hidden, state: node.dataset.state, text: document.getElementById('live-text').textContent };
      });
      const m = /^updated (\d+)s ago$/.exec(live.text);
      return !live.hidden && live.state === 'ok' && m && Number(m[1]) <= 5 ? live : null;
    });
  });
  await shot(pb, 'list-drift');

  // 4. The viewer: no action buttons, and signing out --------------------------------------------------
  await check('viewer: the application page shows the waiting plan in #approval (/etc/motd, the hand edit in its diff)', async () => {
    await pb.click(`${rowSelector(APP)} th a`);
    await until('#approval with the plan', () => pb.evaluate((edit) => {
      const node = document.getElementById('approval');
      return node && !node.hidden && node.textContent.includes('/etc/motd') && node.textContent.includes(`-${edit}`);
    }, HAND_EDIT));
  });
  await check('viewer: no #sync-now, #approve or #reject (absent or hidden) while a plan waits', async () => {
    for (const id of ['#sync-now', '#approve', '#reject']) assert(await hiddenOrAbsent(pb, id), `${id} is visible`);
  });
  await shot(pb, 'app-viewer-pending');

  let viewerSession = '';
  await check('#signout ends the session: the sign-in form is back, the cookie gone', async () => {
    viewerSession = (await ctxB.cookies(PROMPTED)).find((c) => c.name === 'plumb_session')?.value || '';
    assert(viewerSession, 'no session cookie before signing out');
    await pb.click('#signout');
    await pb.waitForSelector('form#signin', { state: 'visible' });
    assert(await pb.locator('#app-name').count() === 0, '#app-name is still there');
    assert(await hiddenOrAbsent(pb, '#signout'), '#signout is still visible');
    const cookies = await ctxB.cookies(PROMPTED);
    assert(!cookies.some((c) => c.name === 'plumb_session'), `cookies: ${show(cookies)}`);
  });
  await check('after signing out, fetch("/api/v1/session") from the page gets 401', async () => {
    const status = await pb.evaluate(async () => (await fetch('/api/v1/session', { credentials: 'same-origin', cache: 'no-store' })).status);
    assert(status === 401, `status ${status}`);
  });
  await check('after signing out, the old session id is refused by the server (401)', async () => {
    const r = await fetch(`${PROMPTED}/api/v1/session`, { headers: { Cookie: `plumb_session=${viewerSession}` } });
    assert(r.status === 401, `status ${r.status}: ${await r.text()}`);
  });
  await check('after signing out, a reload shows the sign-in form', async () => {
    await pb.reload({ waitUntil: 'load' });
    await pb.waitForSelector('form#signin', { state: 'visible' });
  });
  await shot(pb, 'signed-out');

  // 5. An operator approves the plan of a new commit from the page ---------------------------------
  const yaml = path.join(REPO, 'hosts/web/app.yaml');
  fs.writeFileSync(yaml, fs.readFileSync(yaml, 'utf8').replace('hello from web', NEW_MOTD));
  git('add', '-A');
  git('commit', '-q', '-m', NEW_SUBJECT);
  const commit = git('rev-parse', 'HEAD').trim();
  await check('POST .../sync with the operator\'s bearer token: 202', async () => {
    const r = await fetch(PROMPTED + APP_PATH + '/sync', { method: 'POST', headers: { Authorization: `Bearer ${OPERATOR}` } });
    assert(r.status === 202, `status ${r.status}: ${await r.text()}`);
  });
  let plan = null;
  await check('a plan of the new commit waits (API)', async () => {
    plan = await until('a waiting plan of the new commit', async () => {
      const a = await apiGet(PROMPTED, APP_PATH);
      if (a.revision_commit !== commit || a.pending_approval == null) return null;
      const p = await apiGet(PROMPTED, `${APP_PATH}/approval`);
      return p.commit === commit ? p : null;
    });
  });

  const ctxC = await newContext();
  const pc = await ctxC.newPage();
  watch(pc, 'operator@prompted');
  await openSignin(pc, PROMPTED);
  await check('the operator token signs in: "bob operator" in the header', async () => {
    await signIn(pc, OPERATOR);
    await pc.waitForSelector('table#apps', { state: 'visible' });
    const who = [await text(pc, '#user-name'), await text(pc, '#user-role')];
    assert(who[0] === 'bob' && who[1] === 'operator', `header: ${show(who)}`);
  });
  await check('operator: the application page shows #approval with the plan (its id, /etc/motd, the new line)', async () => {
    assert(plan, 'no plan waits');
    await pc.click(`${rowSelector(APP)} th a`);
    await until('#approval with the plan', () => pc.evaluate(({ id, line }) => {
      const node = document.getElementById('approval');
      return node && !node.hidden && node.textContent.includes(`Plan #${id}`) && node.textContent.includes('/etc/motd') &&
        node.textContent.includes(line);
    }, { id: plan.id, line: `+${NEW_MOTD}` }));
  });
  await check('operator: #sync-now, #approve and #reject are offered', async () => {
    for (const id of ['#sync-now', '#approve', '#reject']) assert(await pc.isVisible(id), `${id} is not visible`);
  });
  await shot(pc, 'app-operator-pending');

  await check('#approve opens dialog#confirm showing the plan: its id, /etc/motd and the diff lines', async () => {
    await pc.click('#approve');
    await until('dialog#confirm open', () => pc.evaluate(() => document.getElementById('confirm').open));
    const title = await text(pc, '#confirm-title');
    const body = await text(pc, '#confirm-plan');
    assert(await pc.isVisible('#confirm-plan'), '#confirm-plan is hidden');
    assert(title.includes(`#${plan.id}`), `#confirm-title: ${show(title)}`);
    for (const want of [`Plan #${plan.id}`, '/etc/motd', `-${HAND_EDIT}`, `+${NEW_MOTD}`]) {
      assert(body.includes(want), `#confirm-plan lacks ${show(want)}: ${show(body)}`);
    }
    assert(await pc.isVisible('#confirm-yes') && await pc.isVisible('#confirm-no'), 'no #confirm-yes or #confirm-no');
  });
  await shot(pc, 'confirm-approve');

  // Once the approval is answered, the plan no longer waits: the application must not go on naming it
  // as pending_approval while GET .../approval already says "no plan waits" (404). The page polls the
  // two in that order, so such a window makes it fetch the plan and log a 404 in the console.
  const stale = [];
  await check('#confirm-yes sends the approval of that plan: 200 approved', async () => {
    const answer = pc.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`${APP_PATH}/approve`));
    // Probe both from the click on, the plan first: before the decision the plan is served (200); once
    // it is not (404), the application must not name it any more.
    const clicked = Date.now();
    let answered = false;
    const probe = (async () => {
      while (Date.now() < clicked + WAIT_MS) {
        const approval = await fetch(`${PROMPTED}${APP_PATH}/approval`, { headers: { Authorization: `Bearer ${VIEWER}` } });
        const a = await apiGet(PROMPTED, APP_PATH);
        if (approval.status === 404 && a.pending_approval === plan.id) {
          stale.push(`${Date.now() - clicked} ms after the click: GET .../approval 404 "no plan waits", yet GET ${APP_PATH} ` +
            `says pending_approval ${a.pending_approval}, sync_status ${a.sync_status}`);
        }
        if (answered && a.pending_approval == null) break;
      }
    })();
    await pc.click('#confirm-yes');
    const r = await answer;
    answered = true;
    const body = await r.json().catch(() => null);
    await probe;
    assert(r.status() === 200 && body && body.id === plan.id && body.state === 'approved', `answer ${r.status()}: ${show(body)}`);
  });
  await check('once approved, the application no longer names the plan as pending while .../approval says none waits', async () => {
    assert(stale.length === 0, `${stale.length} inconsistent answers, the first: ${stale[0]}`);
  });
  await check('/etc/motd in the destination root then holds the new content', async () => {
    await until('the new content on disk', () => fs.readFileSync(motd, 'utf8') === `${NEW_MOTD}\n`);
  });
  await check('the application page then shows Synced, the plan gone, and says it was approved', async () => {
    await until('Synced without a plan', () => pc.evaluate(() => {
      const badge = document.querySelector('#summary .badge');
      return badge && badge.textContent === 'Synced' && document.getElementById('approval').hidden;
    }));
    const alert = await text(pc, '#app-alert');
    assert(alert === `Plan #${plan.id} approved.`, `#app-alert: ${show(alert)}`);
  });
  // api.md: "diff" is the current plan, as `plumb plan` prints it; once applied nothing is left to do
  // (as /objects, all Synced, says), so #diff must not go on showing the applied change.
  await check('once Synced, #diff shows no change still to make (not the plan just applied)', async () => {
    await until('#diff without the applied change', () => pc.evaluate((line) => {
      const node = document.getElementById('diff');
      return node && !node.querySelector('.ln.k-action-create, .ln.k-action-update, .ln.k-action-delete, .ln.k-add, .ln.k-del') &&
        !node.textContent.includes(line);
    }, `+${NEW_MOTD}`)).catch(async (e) => {
      const diff = await text(pc, '#diff .section-body');
      const a = await apiGet(PROMPTED, APP_PATH);
      throw new Error(`${e.message}\n#diff: ${diff}\nthe API: sync_status ${a.sync_status}, changes ${show(a.changes)}, diff ${show(a.diff)}`);
    });
  });
  await shot(pc, 'app-approved');
  await check('back in the list: Synced, Healthy, the new commit\'s subject, no plan', async () => {
    await pc.click('#nav-apps');
    await until('the row', async () => {
      const r = await rowState(pc, APP);
      return r && r.status === 'Synced' && r.health === 'Healthy' && r.subject === NEW_SUBJECT && r.pending === '' ? r : null;
    });
  });

  // 8. The audit page ------------------------------------------------------------------------------
  await check('#audit lists the entries, bob\'s approval among them, and the hash chain verifies', async () => {
    await pc.click('#nav-audit');
    const entries = await until('audit entries', () => pc.$$eval('table#audit tbody tr[data-id]', (trs) => trs.map((tr) => ({
      id: Number(tr.dataset.id), actor: tr.cells[2].textContent, event: tr.cells[3].textContent, subject: tr.cells[4].textContent,
    }))).then((e) => (e.length ? e : null)));
    assert(entries.some((e) => e.event === 'approval.approve' && e.actor === 'bob' && e.subject === APP),
      `no approval.approve by bob: ${show(entries.slice(0, 8))}`);
    const ids = entries.map((e) => e.id);
    assert(show(ids) === show([...ids].sort((a, b) => b - a)), `not newest first: ${show(ids)}`);
    const chain = await until('#audit-chain verified', () => pc.evaluate(() => {
      const node = document.getElementById('audit-chain');
      return node.classList.contains('chain-ok') || node.classList.contains('chain-bad') ? { cls: node.className, text: node.textContent } : null;
    }));
    assert(chain.cls.includes('chain-ok') && chain.text.includes('Hash chain intact'), `#audit-chain: ${show(chain)}`);
  });
  await shot(pc, 'audit');

  // 6, once more at the end: nothing ran on the first page.
  await check('at the end, window.__pwned is still undefined on the first page', async () => {
    assert(await page.evaluate(() => typeof window.__pwned) === 'undefined', 'window.__pwned is set');
  });

  // 9. A thousand applications: the list answered by a stand-in of the API with 1,000 of them ----------
  const ctxK = await newContext();
  const pk = await ctxK.newPage();
  watch(pk, 'viewer@1000');
  const real = (await apiGet(AUTO, '/api/v1/applications')).applications[0];
  const fleet = Array.from({ length: 1000 }, (_, i) => ({
    ...real, name: `fleet/host-${String(i).padStart(4, '0')}`,
    sync_status: ['Synced', 'OutOfSync', 'Unknown'][i % 3], drift_events: i % 7,
  }));
  let fleetAnswers = 0;
  await pk.route('**/api/v1/applications', (route) => {
    fleetAnswers++;
    return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ applications: fleet }) });
  });
  const visibleRows = () => pk.$$eval('table#apps tbody tr[data-app]', (trs) => trs.filter((tr) => tr.offsetParent !== null).length);
  await openSignin(pk, AUTO);
  await signIn(pk, VIEWER);
  await check('1,000 applications: every one has its row', async () => {
    await until('1,000 rows', async () => ((await visibleRows()) === 1000 ? true : null));
  });
  await shot(pk, 'list-1000');
  await check('1,000 applications: the filter narrows them to the one named', async () => {
    await pk.fill('#filter', 'host-0420');
    await until('one row', async () => ((await visibleRows()) === 1 ? true : null));
  });
  await check('1,000 applications: the page keeps polling them, and the filtered view holds across polls', async () => {
    const before = fleetAnswers;
    await until('two more polls', async () => (fleetAnswers >= before + 2 ? true : null));
    assert((await visibleRows()) === 1, `rows shown: ${await visibleRows()}`);
    const shown = await pk.$$eval('table#apps tbody tr[data-app]', (trs) =>
      trs.filter((tr) => tr.offsetParent !== null).map((tr) => tr.dataset.app));
    assert(show(shown) === show(['fleet/host-0420']), `rows shown: ${show(shown)}`);
  });
  await ctxK.close();

  // 7. No console error and no page error, but the expected 401s and 409s -----------------------------
  const expected = /Failed to load resource: the server responded with a status of (401|409)\b/;
  await check('no console error during the run but the expected 401/409 answers', async () => {
    const unexpected = consoleErrors.filter((e) => !expected.test(e.text));
    const lines = unexpected.map((e) => `${e.label} on ${e.page}: ${e.text}${e.url ? ` (${e.url})` : ''}`);
    if (unexpected.length) lines.push('error answers seen:', ...errorResponses);
    assert(unexpected.length === 0, lines.join('\n'));
  });
  note(`console errors seen (all expected): ${consoleErrors.filter((e) => expected.test(e.text)).length}`);
  await check('no page error (uncaught exception) during the run', async () => {
    assert(pageErrors.length === 0, pageErrors.map((e) => `${e.label} on ${e.page}: ${e.text}`).join('\n'));
  });

  // 8. The screenshots ---------------------------------------------------------------------------------
  await check('screenshots of sign-in, list, application page, approval dialog and audit page exist', async () => {
    for (const name of ['signin', 'list', 'app', 'confirm-approve', 'audit']) {
      const s = shots.find((x) => x.name === name);
      assert(s && fs.statSync(s.file).size > 1000, `no screenshot ${name}`);
    }
  });
  note(`${shots.length} screenshots in ${SHOTS}: ${shots.map((s) => path.basename(s.file)).join(' ')}`);
}

let browser;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  ok(`chromium ${browser.version()} starts headless`);
  await main(browser);
} catch (e) {
  notOk('the browser script runs without crashing', e && e.stack ? e.stack : String(e));
  process.exitCode = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
}
