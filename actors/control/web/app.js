// Standby panels: Health and Machines. Plain JavaScript, no build step, nothing from a CDN.
// The status comes from GET /api/status; every event on /api/events (Server-Sent Events, read with
// fetch so the token travels in a header, not in a URL) triggers a fresh status, so the panels stay
// live without a reload. The token is kept in sessionStorage: entered once per browser session.
// What the panel shows is only as good as its last contact with the supervisor: with no event or
// heartbeat for CONTACT_MS it greys the page out under a banner rather than show old state as live.
'use strict';

const LEVEL_OPERATE = 2, LEVEL_CONFIGURE = 3;
const CONTACT_MS = 2000, LOG_MAX = 200;
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem('standby-token') || '',
  operator: '', level: 0,
  status: null,
  busy: new Set(),      // pairs/machines with a request in flight
  drafts: {},           // pair name → mapping being edited on the Machines panel
  errors: {},           // pair name (or "+new") → errors of the last refused edit
  newPair: null,        // the "add backup" form's draft
  errorFields: {},      // pair name (or "+new") → fields of the last refused edit, to highlight
  log: [],              // events, newest first
  lastContact: 0,       // Date.now() of the last event, heartbeat or status from the supervisor
  statusAt: 0,          // Date.now() when the status shown was received
  live: false,          // the event stream is open
  noContact: false,
};

// h builds an element: h('div', {class: 'x', onclick: fn}, child, 'text', ...). Text is never parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') { for (const [dk, dv] of Object.entries(v)) if (dv !== undefined && dv !== null) el.dataset[dk] = dv; }
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// ---- API ----

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: 'Bearer ' + state.token }, cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    return { http: 0, reply: { ok: false, code: 'CODE_UNAVAILABLE', reason: 'supervisor unreachable: ' + e.message } };
  }
  let reply;
  try { reply = await res.json(); } catch { reply = { ok: false, reason: res.status + ' ' + res.statusText }; }
  if (res.status === 401) signOut('The supervisor refused the token: ' + reply.reason);
  return { http: res.status, reply };
}

// act runs a change and reports its outcome; key marks what is busy meanwhile.
// An edit's refusal is shown once, in its card (quiet): not in a toast too.
async function act(key, method, path, body, quiet) {
  state.busy.add(key);
  render();
  const { reply } = await api(method, path, body);
  state.busy.delete(key);
  if (!(quiet && !reply.ok)) toast(reply.ok ? reply.reason || 'done' : 'Refused: ' + reply.reason, !reply.ok);
  await refresh();
  return reply;
}

let refreshing = null, again = false;
// refresh fetches the status; calls while one is in flight coalesce into one more.
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    do {
      again = false;
      const { http, reply } = await api('GET', '/api/status');
      if (http === 200 && reply.status) {
        state.status = reply.status;
        state.statusAt = Date.now();
        contact();
        state.operator = reply.operator;
        state.level = reply.level;
        render();
      }
    } while (again);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

// ---- live events ----

let streamAbort = null, streamTimer = null, watchdog = null, backoff = 500;

async function stream() {
  clearTimeout(streamTimer);
  if (!state.token) return;
  const ctrl = new AbortController();
  streamAbort = ctrl;
  const kick = () => { clearTimeout(watchdog); watchdog = setTimeout(() => ctrl.abort(), 8000); };
  try {
    kick();
    const res = await fetch('/api/events', { headers: { Authorization: 'Bearer ' + state.token }, signal: ctrl.signal, cache: 'no-store' });
    if (res.status === 401) { signOut('The supervisor refused the token.'); return; }
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    setLive(true);
    backoff = 500;
    refresh();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      kick();
      contact();
      buf += value;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let kind = 'message', data = '';
        for (const line of frame.split('\n')) {
          if (line.startsWith('event:')) kind = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        onEvent(kind, data ? JSON.parse(data) : {});
      }
    }
  } catch (e) {
    // reconnect below
  }
  clearTimeout(watchdog);
  setLive(false);
  if (state.token && streamAbort === ctrl) {
    streamTimer = setTimeout(stream, backoff);
    backoff = Math.min(backoff * 2, 5000);
  }
}

function onEvent(kind, e) {
  if (kind !== 'hello' && kind !== 'heartbeat') {
    if (!state.log.some((x) => x.seq === e.seq)) state.log.unshift(e);
    state.log.length = Math.min(state.log.length, LOG_MAX);
  }
  refresh();
}

// loadHistory fills the event log with the supervisor's last events (at sign-in and reload).
async function loadHistory() {
  const { http, reply } = await api('GET', '/api/events/history');
  if (http !== 200 || !Array.isArray(reply.events)) return;
  const known = new Set(state.log.map((e) => e.seq));
  const older = reply.events.filter((e) => !known.has(e.seq)).reverse();
  state.log = [...state.log, ...older].sort((a, b) => Number(b.seq) - Number(a.seq)).slice(0, LOG_MAX);
  render();
}

function setLive(on) {
  state.live = on;
  const el = $('live');
  el.textContent = on ? 'live' : 'offline';
  el.className = 'chip ' + (on ? 'ok' : 'bad');
  checkContact();
}

function contact() {
  state.lastContact = Date.now();
  checkContact();
}

// checkContact greys the page out once the supervisor is lost (stream closed, or silent past
// CONTACT_MS), and keeps every age on the page counting from the last contact.
function checkContact() {
  const lost = !!state.status && (!state.live || Date.now() - state.lastContact > CONTACT_MS);
  if (lost !== state.noContact) {
    state.noContact = lost;
    document.body.classList.toggle('no-contact', lost);
    $('nocontact').hidden = !lost;
    $('nocontact').textContent = lost ? 'NO CONTACT WITH SUPERVISOR — state shown is from ' + fmtClockMs(state.statusAt || state.lastContact) : '';
    render();
  }
  tick();
}

// tick updates what counts with time without a render: heartbeat ages, failback countdowns.
function tick() {
  const since = state.statusAt ? Date.now() - state.statusAt : 0;
  for (const el of document.querySelectorAll('[data-age-ms]')) {
    const age = Number(el.dataset.ageMs);
    el.textContent = age < 0 ? 'never heard' : 'heard ' + fmtAge(age + since) + ' ago';
  }
  for (const el of document.querySelectorAll('[data-failback-at]')) {
    const left = Math.max(0, Math.ceil((new Date(el.dataset.failbackAt) - serverNow()) / 1000));
    el.textContent = `FAILBACK IN ${left} s`;
  }
}

// serverNow is the supervisor's clock as the status last told it, advanced by the time since.
function serverNow() {
  const st = state.status;
  if (!st || !st.time) return Date.now();
  return new Date(st.time).getTime() + (Date.now() - state.statusAt);
}

setInterval(checkContact, 250);

// ---- sign in / out ----

async function signIn(token) {
  state.token = token;
  const { http, reply } = await api('GET', '/api/status');
  if (http !== 200) {
    state.token = '';
    $('signin-error').textContent = reply.reason || 'Sign-in failed';
    return;
  }
  sessionStorage.setItem('standby-token', token);
  $('signin-error').textContent = '';
  state.status = reply.status;
  state.statusAt = Date.now();
  state.operator = reply.operator;
  state.level = reply.level;
  route();
  stream();
  loadHistory();
}

function signOut(message) {
  state.token = '';
  sessionStorage.removeItem('standby-token');
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  state.status = null;
  $('signin-error').textContent = message || '';
  route();
}

// ---- rendering ----

function route() {
  const signedIn = !!state.token && !!state.status;
  const tab = location.hash === '#machines' ? 'machines' : 'health';
  $('signin').hidden = signedIn;
  $('tabs').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('health').hidden = !signedIn || tab !== 'health';
  $('machines').hidden = !signedIn || tab !== 'machines';
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.tab === tab);
  if (!signedIn) $('token').focus();
  render();
}

// A pointer held down defers rendering: replacing the button under it would swallow the click.
$('make-primary').addEventListener('click', () => act('make-primary', 'POST', '/api/supervisor/make-primary'));
$('resync').addEventListener('click', () => act('resync', 'POST', '/api/supervisor/resync'));

let pointerDown = false, renderDeferred = false;
document.addEventListener('pointerdown', () => { pointerDown = true; }, true);
document.addEventListener('pointerup', () => {
  pointerDown = false;
  if (renderDeferred) { renderDeferred = false; setTimeout(render, 0); } // after the click event
}, true);

function render() {
  const st = state.status;
  if (!st) return;
  if (pointerDown) { renderDeferred = true; return; }
  const sv = st.supervisor;
  $('sup-name').textContent = sv.name;
  document.title = 'Standby · ' + sv.name;
  $('version').textContent = 'standby ' + (sv.version || 'unknown');
  const chip = $('chip');
  chip.textContent = sv.chip;
  chip.className = 'chip ' + (sv.role === 'standalone' ? 'warn' : sv.chip === 'Backup is active' ? 'bad' : 'ok');
  const paired = sv.sync_status && sv.sync_status !== 'No redundancy';
  $('sync').hidden = !paired;
  if (paired) {
    $('sync').textContent = `${sv.sync_status} · ${sv.active ? 'active' : 'standby'} · term ${sv.term || 0}`;
    $('sync').title = (sv.peer || '') + (sv.sync_detail ? ': ' + sv.sync_detail : '');
    $('sync').className = 'chip ' + (sv.sync_status === 'Synced' ? 'ok' : 'bad');
  }
  $('make-primary').hidden = !paired || !!sv.active || (state.level || 0) < 3;
  $('resync').hidden = !paired || (state.level || 0) < 2;
  // Without contact a router's last known state is not claimed.
  $('routers').replaceChildren(...st.routers.map((r) =>
    h('span', { class: 'chip ' + (r.conn === 'connected' && !state.noContact ? 'ok' : 'bad'), title: r.detail, dataset: { router: r.name, conn: state.noContact ? 'unknown' : r.conn } },
      'router ' + r.name + ': ' + (state.noContact ? 'unknown (no contact)' : r.conn))));
  $('who').textContent = state.operator ? `${state.operator} · level ${state.level}` : '';
  // Not dismissible: plaintext links stay a standing risk until [tls] is set up.
  $('plaintext').hidden = !!sv.links_authenticated;
  $('identity').hidden = !sv.links_authenticated;
  $('identity').textContent = sv.links_authenticated ? 'TLS ' + sv.identity : '';
  renderAlarmBar(st);
  if (!$('health').hidden) renderHealth(st);
  if (!$('machines').hidden) renderMachines(st);
  tick();
  document.body.dataset.ready = '1';
}

function machineMap(st) {
  const m = {};
  for (const x of st.machines) m[x.name] = x;
  return m;
}

// alarmState: "active" (red), "cleared" (cause gone, not yet acknowledged: outlined grey) or
// "acked" (acknowledged, cause still there: amber).
function alarmState(a) { return !a.active ? 'cleared' : a.acked ? 'acked' : 'active'; }

function alarmWhen(a) {
  const st = alarmState(a);
  const since = a.since ? 'since ' + fmtClock(a.since) : '';
  if (st === 'cleared') return (a.cleared_at ? 'cleared ' + fmtClock(a.cleared_at) : 'cleared') + ', acknowledge';
  if (st === 'acked') return 'acknowledged, still active' + (since ? ' ' + since : '');
  return since;
}

// alarmItem is one alarm as the bar and the cards show it: its state in colour and words, its
// times, and (level 2) the button that acknowledges it.
function alarmItem(who, a, key, path, body, bar) {
  const st = alarmState(a);
  const kind = a.kind.replace(/_/g, ' ');
  return h('div', { class: 'alarm ' + st, dataset: { alarm: a.kind, alarmState: st, who } },
    h('span', {}, bar ? h('b', {}, who + ': ' + kind) : h('b', {}, kind), ' ', bar ? '' : a.message, ' ', h('span', { class: 'when' }, alarmWhen(a))),
    !a.acked && state.level >= LEVEL_OPERATE
      ? h('button', { type: 'button', class: 'small', disabled: state.busy.has(key) || state.noContact, dataset: { ack: who, alarm: a.kind, ackMachine: path.startsWith('/api/machines/') ? who : undefined },
        title: a.kind === 'duplicate_agent' && a.active ? 'The machine then follows the newer agent session' : undefined,
        onclick: () => act(key, 'POST', path, body) }, 'Acknowledge')
      : null);
}

function pairAlarmArgs(p, a) {
  return ['pair:' + p.name, `/api/pairs/${encodeURIComponent(p.name)}/acknowledge`, { alarm: a.kind }];
}
function slotAlarmArgs(p, sl, a) {
  return [`pool:${p.name}:${sl.main}`, `/api/pools/${encodeURIComponent(p.name)}/acknowledge`, { alarm: a.kind, main: sl.main }];
}
function machineAlarmArgs(m, a) {
  return ['machine:' + m.name, `/api/machines/${encodeURIComponent(m.name)}/acknowledge`, { alarm: a.kind }];
}

// renderAlarmBar lists every alarm that wants attention at the top of the page (it stays on
// screen when the page scrolls), each acknowledgeable from there.
function renderAlarmBar(st) {
  const items = [];
  for (const p of st.pairs) for (const a of p.alarms || []) items.push(alarmItem(p.name, a, ...pairAlarmArgs(p, a), true));
  for (const p of st.pools || []) for (const sl of p.slots) for (const a of sl.alarms) items.push(alarmItem(`${p.name}/${sl.main}`, a, ...slotAlarmArgs(p, sl, a), true));
  // A machine in no pair or pool has no card: its alarms are acknowledged here.
  for (const m of st.machines) for (const a of m.alarms || []) items.push(alarmItem(m.name, a, ...machineAlarmArgs(m, a), true));
  const bar = $('alarmbar');
  const active = items.filter((el) => el.dataset.alarmState === 'active').length;
  bar.hidden = items.length === 0;
  bar.replaceChildren(items.length ? h('span', { class: 'count' }, `${active} active alarm${active === 1 ? '' : 's'}, ${items.length} in all`) : '', ...items);
}

// machineAlarms are a machine's own alarms (duplicate_agent) on its card, like a pair's.
function machineAlarms(m) {
  return h('div', { class: 'alarms' }, (m.alarms || []).map((a) => alarmItem(m.name, a, ...machineAlarmArgs(m, a), false)));
}

// criticalText names what is critical (or warning) on a machine: "gpu_temp 93 (≥ 90)".
function levelText(m, level) {
  return m.health.filter((v) => v.level === level).map((v) => {
    const limit = level === 'critical' ? v.critical : v.warning;
    return `${v.name} ${fmtNum(v.value)} (${v.critical >= v.warning ? '≥' : '≤'} ${fmtNum(limit)})`;
  }).join(', ');
}

// conditionText says how a machine is, in words; a critical machine never reads "ok".
function conditionText(m) {
  if (!m.known) return 'not seen yet';
  if (m.failure) return m.detail || m.failure + ' failed';
  if (m.level === 'critical') return 'critical: ' + (levelText(m, 'critical') || m.detail);
  if (m.level === 'warning') return 'warning: ' + (levelText(m, 'warning') || m.detail);
  return 'ok';
}

function down(m) { return !m || !m.known || !!m.failure; }
function unhealthy(m) { return down(m) || m.level === 'critical'; }

function routerOf(st, name) { return (st.routers || []).find((r) => r.name === name); }

// headline says what is going on with a pair, in words, and how bad it is (ok, warn, bad).
function headline(p, ms, st) {
  const main = ms[p.main], backup = ms[p.backup];
  const since = p.on_air_since ? ' since ' + fmtClock(p.on_air_since) : '';
  if (p.state === 'no-backup') return { kind: 'no-backup', cls: 'bad', text: `NO BACKUP — ${p.main} unprotected` };
  if (p.state.startsWith('switching')) return { kind: 'switching', cls: 'warn', text: 'SWITCHING…' };
  if (p.state === 'unarmed') return { kind: 'unarmed', cls: 'warn', text: `NOT ARMED — waiting for ${p.main}` };
  if (p.on_air === 'main') {
    if (down(main)) return { kind: 'main-failed', cls: 'bad', text: `MAIN FAILED (${main ? main.failure || 'not seen' : 'unknown'}) — STILL ON AIR`, extra: unhealthy(backup) ? 'NO HEALTHY BACKUP' : undefined };
    if (unhealthy(backup)) return { kind: 'no-healthy-backup', cls: 'bad', text: `ON MAIN — NO HEALTHY BACKUP (${p.backup} ${backup ? conditionText(backup) : 'unknown'})` };
    return { kind: 'on-main', cls: 'ok', text: 'ON MAIN' };
  }
  const why = p.failed_over_on ? `MAIN FAILED (${p.failed_over_on}) → ON BACKUP` : 'ON BACKUP';
  if (unhealthy(main)) return { kind: 'on-backup', cls: 'bad', text: `${why}${since}`, extra: 'NO HEALTHY BACKUP' };
  return { kind: 'on-backup', cls: 'warn', text: `${why}${since}`, failbackAt: p.failback_at };
}

function renderHealth(st) {
  const ms = machineMap(st);
  $('pairs').replaceChildren(...st.pairs.map((p) => pairColumn(p, ms, st)));
  if (!movePicking()) $('pools').replaceChildren(...(st.pools || []).map((p) => poolCard(p, ms, st)));
  $('log').replaceChildren(...collapse(state.log).map((g) => h('li', { dataset: { kind: g.e.kind, count: String(g.n) } }, eventText(g.e, g))));
}

// pairColumn is one pair: a header that says its state in words, main on top, Switch, backup
// below, its alarms. The columns share rows (CSS subgrid), so the buttons line up.
function pairColumn(p, ms, st) {
  const main = ms[p.main], backup = ms[p.backup];
  const hl = headline(p, ms, st);
  const router = routerOf(st, p.router);
  const routerDown = !state.noContact && router && router.conn !== 'connected';
  if (routerDown && hl.cls === 'ok') hl.cls = 'warn'; // on air, but nothing could switch it
  const head = h('div', { class: 'pair-head' },
    h('div', { class: 'pair-title' }, h('b', {}, p.name),
      h('span', { class: 'badge ' + p.mode }, p.mode),
      h('span', { class: 'badge' }, 'failback ' + p.failback),
      p.latched ? h('span', { class: 'badge manual' }, 'latched') : null),
    h('div', { class: 'headline ' + hl.cls, dataset: { headline: hl.kind } }, hl.text),
    hl.failbackAt ? h('div', { class: 'headline warn', dataset: { failbackAt: hl.failbackAt } }, 'FAILBACK IN …') : null,
    hl.extra ? h('div', { class: 'headline bad' }, hl.extra) : null,
    routerDown ? h('div', { class: 'headline bad', dataset: { routerDown: p.router } }, `router ${p.router} ${router.conn} — cannot switch`) : null);
  if (p.state === 'no-backup') {
    return h('div', { class: 'pair', dataset: { pair: p.name, onAir: 'main', state: p.state } },
      head, machineCard(main, 'main', p, st), h('div', { class: 'switch-cell dim' }, 'No backup: add one on the Machines panel'), h('div', {}), h('div', {}));
  }
  const target = p.switch_to === 'backup' ? backup : main;
  const switching = p.state.startsWith('switching');
  const onAirDown = down(p.on_air === 'main' ? main : backup);
  let why = '';
  if (state.noContact) why = 'No contact with the supervisor';
  else if (state.level < LEVEL_OPERATE) why = 'Needs permission level 2 (operate)';
  else if (switching) why = 'A switch is in progress';
  else if (routerDown) why = `Router ${p.router} is ${router.conn}: cannot switch`;
  else if (!target) why = `${p.switch_to} is unknown`;
  else if (down(target)) why = `${target.name} is down: ${conditionText(target)}`;
  else if (target.level === 'critical') why = `${target.name} is ${conditionText(target)}`;
  const busy = state.busy.has('pair:' + p.name);
  const arrow = p.switch_to === 'backup' ? '↓' : '↑';
  const sw = h('button', {
    type: 'button', class: 'switch' + ((p.critical || onAirDown) && !why ? ' prominent' : ''), disabled: !!why || busy,
    title: why || `Put ${target.name} (${p.switch_to}) on air`, dataset: { switch: p.name, to: p.switch_to },
    onclick: () => act('pair:' + p.name, 'POST', `/api/pairs/${encodeURIComponent(p.name)}/switch`, { to: p.switch_to }),
  }, busy ? 'Switching…' : `Switch ${arrow}`);
  return h('div', { class: 'pair', dataset: { pair: p.name, onAir: p.on_air, state: p.state, headline: hl.kind } },
    head,
    machineCard(main, 'main', p, st),
    h('div', { class: 'switch-cell' }, sw, why && state.level >= LEVEL_OPERATE ? h('div', { class: 'why', dataset: { why: p.name } }, why) : null),
    machineCard(backup, 'backup', p, st),
    alarmList(p));
}

// movePicking: an operator has a Move To list open. Re-rendering would close it under the pointer, so
// the pools wait until it loses focus (the choice is kept in state.moveTo), for at most 5 s: a list left
// focused must not freeze what the pool cards show as on air.
function movePicking() {
  const f = document.activeElement;
  if (!f || !f.matches('select[data-move-to]') || !$('pools').contains(f)) return false;
  if (!f.dataset.deferred) {
    f.dataset.deferred = String(Date.now());
    f.addEventListener('blur', () => setTimeout(render, 0), { once: true });
  }
  return Date.now() - Number(f.dataset.deferred) < 5000;
}

// poolCard shows a backup pool: its mains in a row on top (each with where it is on air and a
// Move To control), its backups below, each labelled with the main it covers or "free".
function poolCard(p, ms, st) {
  const covering = {};
  for (const b of p.backups) covering[b.name] = b.covering;
  const mains = p.slots.map((sl) => {
    const m = ms[sl.main];
    const onMain = sl.on_air === sl.main;
    const card = machineCard(m, 'main', { on_air: onMain ? 'main' : '' }, st);
    card.id = `pool-${p.name}-main-${sl.main}`;
    card.dataset.pool = p.name;
    card.dataset.state = sl.state;
    const shl = slotHeadline(p, sl, ms);
    const lines = [h('div', { class: 'headline ' + shl.cls, dataset: { headline: shl.kind } }, shl.text)];
    if (shl.failbackAt) lines.push(h('div', { class: 'headline warn', dataset: { failbackAt: shl.failbackAt } }, 'FAILBACK IN …'));
    if (sl.on_air && !onMain) lines.push(h('div', { class: 'covered', dataset: { coveredBy: sl.on_air } }, `on ${sl.on_air}` + (sl.target ? ` → ${sl.target}` : '')));
    else if (sl.target) lines.push(h('div', { class: 'covered' }, `switching to ${sl.target}`));
    if (sl.stay.length) lines.push(h('div', { class: 'stay' }, `outputs [${sl.stay.join(', ')}] stay on ${sl.main} (partial coverage)`));
    const q = p.queue.indexOf(sl.main);
    if (q >= 0) lines.push(h('div', { class: 'waiting', dataset: { waiting: String(q + 1) } },
      `waiting #${q + 1} of ${p.queue.length}` + (sl.waiting_since ? ' since ' + fmtClock(sl.waiting_since) : '')));
    card.append(...lines, moveControl(p, sl), slotAlarms(p, sl));
    return card;
  });
  const backups = p.backups.map((b) => {
    const card = machineCard(ms[b.name], 'backup', { on_air: b.covering ? 'backup' : '' }, st);
    card.id = `pool-${p.name}-backup-${b.name}`;
    card.dataset.pool = p.name;
    card.dataset.covering = b.covering;
    card.append(h('div', { class: 'covered' }, b.covering ? `covering ${b.covering}` : 'free'));
    return card;
  });
  const phl = poolHeadline(p, ms, st);
  return h('div', { class: 'pool', id: `pool-${p.name}`, dataset: { pool: p.name } },
    h('div', { class: 'pair-head' }, h('div', { class: 'pair-title' }, h('b', {}, p.name),
      h('span', { class: 'badge ' + p.mode }, p.mode),
      h('span', { class: 'badge' }, 'failback ' + p.failback),
      p.router ? h('span', { class: 'badge' }, 'router ' + p.router) : null,
      p.queue.length ? h('span', { class: 'badge manual' }, `${p.queue.length} waiting`) : null),
    phl.map((x) => h('div', { class: 'headline ' + x.cls, dataset: { poolHeadline: x.kind } }, x.text))),
    h('div', { class: 'pool-row' }, mains),
    h('div', { class: 'pool-row' }, backups),
    ...p.warnings.map((w) => h('div', { class: 'dim warn' }, w)));
}

// slotHeadline says, in words, what is on air for one main of a pool.
function slotHeadline(p, sl, ms) {
  const main = ms[sl.main];
  const since = sl.on_air_since ? ' since ' + fmtClock(sl.on_air_since) : '';
  const q = p.queue.indexOf(sl.main);
  if (sl.state.startsWith('switching')) return { kind: 'switching', cls: 'warn', text: 'SWITCHING…' };
  if (q >= 0) return { kind: 'waiting', cls: 'bad', text: `WAITING #${q + 1} — NO BACKUP FREE` };
  if (sl.state === 'unarmed') return { kind: 'unarmed', cls: 'warn', text: `NOT ARMED — waiting for ${sl.main}` };
  if (sl.on_air === sl.main) {
    if (down(main)) return { kind: 'main-failed', cls: 'bad', text: `MAIN FAILED (${main ? main.failure || 'not seen' : 'unknown'}) — STILL ON AIR` };
    return { kind: 'on-main', cls: 'ok', text: 'ON MAIN' };
  }
  const why = sl.failed_over_on ? `MAIN FAILED (${sl.failed_over_on}) → ` : '';
  return { kind: 'on-backup', cls: 'warn', text: `${why}ON ${sl.on_air}${since}`, failbackAt: sl.failback_at };
}

// poolHeadline sums a pool up in words: all on main, how many covered or waiting, whether a
// healthy backup is left, and whether its router can switch.
function poolHeadline(p, ms, st) {
  const out = [];
  const covered = p.slots.filter((sl) => sl.on_air && sl.on_air !== sl.main).length;
  if (p.queue.length) out.push({ kind: 'waiting', cls: 'bad', text: `${p.queue.length} WAITING — NO BACKUP FREE` });
  else if (covered) out.push({ kind: 'covered', cls: 'warn', text: `${covered} ON BACKUP` });
  else out.push({ kind: 'on-main', cls: 'ok', text: 'ALL ON MAIN' });
  if (!p.backups.some((b) => !b.covering && !unhealthy(ms[b.name]))) out.push({ kind: 'no-healthy-backup', cls: 'bad', text: 'NO HEALTHY BACKUP FREE' });
  const r = routerOf(st, p.router);
  if (!state.noContact && r && r.conn !== 'connected') out.push({ kind: 'router-down', cls: 'bad', text: `router ${p.router} ${r.conn} — cannot switch` });
  return out;
}

// moveControl is "Move To": pick a backup, any free one, or the main itself, and switch.
function moveControl(p, sl) {
  const key = `pool:${p.name}:${sl.main}`;
  const busy = state.busy.has(key);
  const choices = [];
  if (sl.on_air !== sl.main) choices.push(['main', `back to ${sl.main}`]);
  choices.push(['any', 'any free backup']);
  for (const b of p.backups) if (b.name !== sl.on_air) choices.push([b.name, b.name + (b.covering ? ` (covering ${b.covering})` : '')]);
  // The choice survives the re-render every event causes.
  const moveTo = (state.moveTo ||= {});
  const sel = h('select', { class: 'move-to', dataset: { moveTo: sl.main }, onchange: (ev) => { moveTo[key] = ev.target.value; } },
    choices.map(([v, t]) => h('option', { value: v }, t)));
  if (choices.some(([v]) => v === moveTo[key])) sel.value = moveTo[key];
  let why = '';
  if (state.level < LEVEL_OPERATE) why = 'Needs permission level 2 (operate)';
  else if (sl.state.startsWith('switching')) why = 'A switch is in progress';
  const alarm = sl.alarms.some((a) => a.active);
  const btn = h('button', {
    type: 'button', class: 'move' + (alarm || sl.critical ? ' prominent' : ''), disabled: !!why || busy, title: why || `Move ${sl.main}'s feeds`,
    dataset: { move: sl.main },
    onclick: () => act(key, 'POST', `/api/pools/${encodeURIComponent(p.name)}/switch`, { main: sl.main, to: sel.value }),
  }, busy ? 'Moving…' : 'Move to');
  return h('div', { class: 'move-row' }, sel, btn);
}

function slotAlarms(p, sl) {
  return h('div', { class: 'alarms' }, sl.alarms.map((a) => alarmItem(`${p.name}/${sl.main}`, a, ...slotAlarmArgs(p, sl, a), false)));
}

function machineCard(m, side, p, st) {
  if (!m) return h('div', { class: 'machine' }, side + ': unknown machine');
  const active = p.on_air === side;
  const card = h('div', {
    class: 'machine ' + side + (active ? ' active' : '') + (down(m) ? ' failed' : ''),
    dataset: { machine: m.name, side, condition: down(m) ? 'down' : 'ok', level: m.level },
  },
  h('div', { class: 'top' }, h('span', { class: 'name' }, m.name), active ? h('span', { class: 'onair' }, 'ON AIR') : h('span', { class: 'side' }, side.toUpperCase())),
  h('div', { class: 'cond' + (unhealthy(m) ? ' bad' : m.level === 'warning' ? ' warn' : ''), dataset: { cond: m.name } }, conditionText(m)),
  h('ul', { class: 'list' },
    m.services.map((s) => h('li', { title: s.reason }, h('span', {}, h('span', { class: 'dot' + (s.up ? '' : ' down') }), s.name), h('span', { class: 'dim' }, s.up ? 'up' : 'down'))),
    m.health.map((v) => h('li', { class: 'lvl-' + v.level, title: `warning ${v.warning}, critical ${v.critical}` },
      h('span', {}, v.name), h('span', {}, v.ok ? fmtNum(v.value) : 'n/a')))),
  h('div', { class: 'dim heard', dataset: { ageMs: String(m.heartbeat_age_ms) } }, m.heartbeat_age_ms < 0 ? 'never heard' : 'heard ' + fmtAge(m.heartbeat_age_ms) + ' ago'),
  (m.alarms || []).length ? machineAlarms(m) : null);
  if (m.simulated && st.supervisor.simulation && state.level >= LEVEL_OPERATE) card.append(simControls(m));
  return card;
}

// simControls fail and heal a simulated machine from the panel (demo studio).
function simControls(m) {
  const key = 'machine:' + m.name;
  const busy = state.busy.has(key) || state.noContact;
  const sim = (body) => act(key, 'POST', `/api/machines/${encodeURIComponent(m.name)}/simulate`, body);
  const btns = m.services.map((s) => h('button', { type: 'button', class: 'small', disabled: busy, dataset: { sim: s.name },
    onclick: () => sim({ service: s.name, up: !s.up }) }, (s.up ? 'Fail ' : 'Restore ') + s.name));
  const silent = m.failure === 'network';
  btns.push(h('button', { type: 'button', class: 'small', disabled: busy, dataset: { sim: 'network' },
    onclick: () => sim({ silent: silent ? 'off' : 'on' }) }, silent ? 'Restore network' : 'Cut network'));
  for (const v of m.health) {
    const worseUp = v.critical > v.warning;
    const crit = v.level === 'critical';
    const value = crit ? (worseUp ? v.warning - 20 : v.warning + 20) : (worseUp ? v.critical + 3 : v.critical - 3);
    btns.push(h('button', { type: 'button', class: 'small', disabled: busy, dataset: { sim: v.name },
      onclick: () => sim({ health: v.name, value }) }, (crit ? 'Normal ' : 'Critical ') + v.name));
  }
  return h('div', { class: 'sim' }, btns);
}

function alarmList(p) {
  return h('div', { class: 'alarms' }, (p.alarms || []).map((a) => alarmItem(p.name, a, ...pairAlarmArgs(p, a), false)));
}

// ---- Machines panel ----

function renderMachines(st) {
  // Keep what is being typed: re-render once the field loses focus.
  const focus = document.activeElement;
  if (focus && $('machines').contains(focus) && focus.matches('input, select')) {
    if (!focus.dataset.deferred) {
      focus.dataset.deferred = '1';
      focus.addEventListener('blur', () => setTimeout(render, 0), { once: true });
    }
    return;
  }
  const ms = machineMap(st);
  $('mapping').replaceChildren(h('h2', {}, 'Backup mapping'), ...st.pairs.map((p) => pairCard(p, ms, st)));
  const paired = new Set(st.pairs.flatMap((p) => [p.main, p.backup]));
  const free = st.machines.filter((m) => !paired.has(m.name));
  $('addpair').replaceChildren(
    h('h2', {}, 'Machines without a pair'),
    h('p', { class: 'dim' }, free.length ? free.map((m) => m.name).join(', ') : 'none'),
    state.level >= LEVEL_CONFIGURE ? addPairForm(st, free) : h('p', { class: 'dim' }, 'Editing the backup mapping needs permission level 3 (configure).'));
  renderActions(st);
}

// renderActions lists the [[action]]s with their latest result and a Test button (level 3): it
// runs the action once with a sample failover of its pair.
function renderActions(st) {
  const as = st.actions || [];
  if (!as.length) { $('actions').replaceChildren(); return; }
  const rows = as.map((a) => {
    const key = 'action:' + a.name;
    const last = a.result ? `${a.result} (${a.event}${a.pair ? ' ' + a.pair : ''}, ${(a.duration_ms || 0).toFixed(1)} ms)` : 'not run yet';
    const test = state.level >= LEVEL_CONFIGURE
      ? h('button', { type: 'button', class: 'test', dataset: { action: a.name }, disabled: state.busy.has(key),
          onclick: () => act(key, 'POST', `/api/actions/${encodeURIComponent(a.name)}/test`) }, state.busy.has(key) ? 'Testing…' : 'Test')
      : null;
    return h('tr', { class: a.result && a.result !== 'ok' ? 'result-bad' : undefined },
      h('td', {}, a.name), h('td', {}, a.kind), h('td', {}, (a.on || []).join(', ')),
      h('td', { class: 'result' }, last), h('td', { class: 'dim' }, a.detail || ''),
      h('td', {}, `${a.ok || 0} ok, ${a.failed || 0} failed, ${a.timed_out || 0} timed out, ${a.dropped || 0} dropped`),
      h('td', {}, test));
  });
  $('actions').replaceChildren(h('h2', {}, 'Actions'),
    h('table', { class: 'actions' }, h('tr', {}, ...['Action', 'Kind', 'On', 'Last result', 'Detail', 'Runs', ''].map((t) => h('th', {}, t))), ...rows),
    state.level >= LEVEL_CONFIGURE ? null : h('p', { class: 'dim' }, 'Testing an action needs permission level 3 (configure).'));
}

function labelled(port, label) {
  return label && label !== port ? `${port} “${label}”` : port;
}

function pairCard(p, ms, st) {
  const d = state.drafts[p.name];
  const canOperate = state.level >= LEVEL_OPERATE;
  const policy = (what, value) => h('select', { disabled: !canOperate || !p.backup || state.busy.has('pair:' + p.name), dataset: { policy: what },
    onchange: (ev) => act('pair:' + p.name, 'POST', `/api/pairs/${encodeURIComponent(p.name)}/${what}`, { [what]: ev.target.value }) },
  ['automatic', 'manual'].map((v) => h('option', { value: v, selected: v === value }, v)));
  const locked = p.feeds.flatMap((f) => f.locked_outputs);
  const warnings = [...p.warnings];
  if (locked.length) warnings.push(`Output ${locked.join(', ')} is locked by another router client: switching it will fail unless force_unlock is set.`);
  for (const a of p.alarms) if (a.kind === 'locked_output' && a.active) warnings.push(a.message);
  const card = h('div', { class: 'mapcard', dataset: { mapping: p.name } },
    h('div', { class: 'maprow' },
      h('b', { class: 'mapname' }, p.name),
      field('Main', p.main + featureText(ms[p.main])),
      field('Backup', p.backup ? p.backup + featureText(ms[p.backup]) : 'none (main unprotected)'),
      field('Router', p.router),
      field('On air', h('span', { class: p.on_air === 'backup' ? 'warnline' : '', dataset: { onAirOf: p.name } }, p.backup ? `${p.active} (${p.on_air})` : `${p.main} (main, no backup)`)),
      field('Mode', policy('mode', p.mode)),
      field('Failback', policy('failback', p.failback))),
    d ? feedEditor(d, st) : feedTable(p),
    warnings.map((w) => h('p', { class: 'warnline' }, '⚠ ' + w)),
    errorList(p.name));
  if (state.level >= LEVEL_CONFIGURE) {
    const busy = state.busy.has('pair:' + p.name);
    card.append(h('div', { class: 'actions' }, d
      ? [
        h('button', { type: 'button', class: 'primary', disabled: busy, onclick: () => saveDraft(p) }, 'Save backup mapping'),
        h('button', { type: 'button', onclick: () => { delete state.drafts[p.name]; delete state.errors[p.name]; render(); } }, 'Cancel'),
        p.backup ? h('button', { type: 'button', class: 'danger', disabled: busy, onclick: () => removeBackup(p) }, 'Remove backup') : null,
      ]
      : h('button', { type: 'button', dataset: { edit: p.name }, onclick: () => { state.drafts[p.name] = draftOf(p); render(); } }, p.backup ? 'Edit mapping' : 'Add backup…')));
  }
  return card;
}

function field(name, value) {
  return h('label', { class: 'field' }, h('span', {}, name), value instanceof Node ? value : h('span', {}, value));
}

function featureText(m) {
  return m && m.features && m.features.length ? ` [${m.features.join(', ')}]` : '';
}

function feedTable(p) {
  return h('table', { class: 'feeds' },
    h('tr', {}, h('th', {}, 'Main input'), h('th', {}, 'Backup input'), h('th', {}, 'Outputs')),
    p.feeds.map((f) => h('tr', {},
      h('td', {}, labelled(f.main_input, f.main_input_label)),
      h('td', {}, labelled(f.backup_input, f.backup_input_label)),
      h('td', {}, f.outputs.map((o, i) => labelled(o, f.output_labels[i])).join(', ')))));
}

function draftOf(p) {
  // A pair without a backup starts from the first machine that could be one.
  const st = state.status;
  const backup = p.backup || (st.machines.find((m) => m.name !== p.main && !pairedElsewhere(st, m.name, p.name)) || {}).name || '';
  return { pair: p.name, backup, main: p.main, feeds: p.feeds.map((f) => ({ main_input: f.main_input, backup_input: f.backup_input, outputs: f.outputs.join(', ') })) };
}

// feedEditor edits a draft: the backup machine and the feed rows.
function feedEditor(d, st) {
  const mainM = st.machines.find((m) => m.name === d.main);
  const backupM = st.machines.find((m) => m.name === d.backup);
  const mismatch = mainM && backupM && [...mainM.features].sort().join() !== [...backupM.features].sort().join();
  return h('div', {},
    h('div', { class: 'maprow spaced' }, field('Backup machine', h('select', { class: bad(d.pair || '+new', 'backup'), onchange: (ev) => { d.backup = ev.target.value; render(); } },
      st.machines.filter((m) => m.name !== d.main && !pairedElsewhere(st, m.name, d.pair)).map((m) => h('option', { value: m.name, selected: m.name === d.backup }, m.name + featureText(m)))))),
    mismatch ? h('p', { class: 'warnline' }, `⚠ ${d.main} and ${d.backup} have different licence features: different features can cause problems when failover occurs.`) : null,
    h('table', { class: 'feeds' },
      h('tr', {}, h('th', {}, 'Main input'), h('th', {}, 'Backup input'), h('th', {}, 'Outputs (comma-separated)'), h('th', {})),
      d.feeds.map((f, i) => h('tr', {},
        ['main_input', 'backup_input', 'outputs'].map((k) => h('td', {}, h('input', { value: f[k], 'aria-label': k, class: bad(d.pair || '+new', `feed[${i}].${k}`), 'aria-invalid': bad(d.pair || '+new', `feed[${i}].${k}`) ? 'true' : undefined, oninput: (ev) => { f[k] = ev.target.value; } }))),
        h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => { d.feeds.splice(i, 1); render(); } }, 'Remove'))))),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'small', onclick: () => { d.feeds.push({ main_input: '', backup_input: '', outputs: '' }); render(); } }, 'Add feed')));
}

// pairedElsewhere: the machine belongs to a pair other than pairName.
function pairedElsewhere(st, machine, pairName) {
  return st.pairs.some((p) => p.name !== pairName && (p.main === machine || p.backup === machine));
}

function feedsBody(d) {
  return d.feeds.map((f) => ({ main_input: f.main_input.trim(), backup_input: f.backup_input.trim(), outputs: f.outputs.split(',').map((s) => s.trim()).filter(Boolean) }));
}

async function saveDraft(p) {
  const d = state.drafts[p.name];
  const path = `/api/pairs/${encodeURIComponent(p.name)}/`;
  const reply = d.backup !== p.backup
    ? await act('pair:' + p.name, 'PUT', path + 'backup', { backup: d.backup, feeds: feedsBody(d) }, true)
    : await act('pair:' + p.name, 'PUT', path + 'feeds', { feeds: feedsBody(d) }, true);
  finishEdit(p.name, reply);
}

async function removeBackup(p) {
  if (!confirm(`Remove ${p.backup} as the backup of ${p.name}? ${p.main} will have no backup; ${p.name} keeps its mode, failback and feeds.`)) return;
  finishEdit(p.name, await act('pair:' + p.name, 'DELETE', `/api/pairs/${encodeURIComponent(p.name)}/backup`, undefined, true));
}

function finishEdit(key, reply) {
  if (reply.ok) {
    delete state.drafts[key];
    delete state.errors[key];
    delete state.errorFields[key];
    if (key === '+new') state.newPair = null;
    if (reply.warnings && reply.warnings.length) toast('Saved. ' + reply.warnings.join(' '), true);
  } else {
    state.errors[key] = reply.errors && reply.errors.length ? reply.errors : [reply.reason];
    state.errorFields[key] = reply.error_fields || [];
  }
  render();
}

// errorList shows a refused edit's errors once, in the card of the pair being edited.
function errorList(key) {
  const errs = state.errors[key];
  return errs ? h('div', { class: 'error', role: 'alert', dataset: { errorsOf: key } }, errs.join('\n')) : null;
}

// bad marks an input of draft key that the last refused edit named (field: "backup", "feed[0].outputs").
function bad(key, field) {
  const fs = state.errorFields[key] || [];
  return fs.includes(field) || (field.startsWith('feed[') && fs.includes('feed')) ? 'invalid' : undefined;
}

function addPairForm(st, free) {
  if (!state.newPair) {
    return h('button', { type: 'button', disabled: free.length < 2, title: free.length < 2 ? 'Needs two machines without a pair' : '',
      onclick: () => { state.newPair = { name: '', main: free[0].name, backup: free[1].name, router: st.routers[0] ? st.routers[0].name : '', feeds: [{ main_input: '', backup_input: '', outputs: '' }] }; render(); } }, 'Add backup…');
  }
  const d = state.newPair;
  const sel = (k, options) => h('select', { onchange: (ev) => { d[k] = ev.target.value; render(); } },
    options.map((v) => h('option', { value: v, selected: v === d[k] }, v)));
  return h('div', { class: 'mapcard' },
    h('div', { class: 'maprow' },
      field('Pair name', h('input', { value: d.name, placeholder: 'cam4', class: bad('+new', 'name'), oninput: (ev) => { d.name = ev.target.value; } })),
      field('Main', sel('main', free.map((m) => m.name))),
      field('Router', sel('router', st.routers.map((r) => r.name)))),
    feedEditor(d, st),
    errorList('+new'),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', onclick: async () => {
        if (!d.name.trim()) { state.errors['+new'] = ['Pair name: required']; state.errorFields['+new'] = ['name']; render(); return; }
        finishEdit('+new', await act('pair:+new', 'PUT', `/api/pairs/${encodeURIComponent(d.name.trim())}/backup`,
          { backup: d.backup, main: d.main, router: d.router, feeds: feedsBody(d) }, true));
      } }, 'Save backup mapping'),
      h('button', { type: 'button', onclick: () => { state.newPair = null; delete state.errors['+new']; render(); } }, 'Cancel')));
}

// ---- small helpers ----

function fmtNum(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : String(Math.round(v * 10) / 10); }

// fmtClock shows a timestamp as HH:MM:SS, local time.
function fmtClock(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return String(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

// fmtClockMs is HH:MM:SS.mmm, 24-hour local time.
function fmtClockMs(ts) {
  const d = new Date(ts);
  if (isNaN(d)) return String(ts);
  return fmtClock(d) + '.' + String(d.getMilliseconds()).padStart(3, '0');
}

function fmtAge(ms) { return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(1) + ' s'; }

// collapse groups runs of the same event (newest first) into one line: "switch_failed ×33 in 33 s".
function collapse(log) {
  const out = [];
  for (const e of log) {
    const key = [e.kind, e.pair, e.main, e.machine, e.router, e.alarm, e.from, e.to, e.trigger, e.failure, e.level, e.conn, e.op, e.operator, e.action, e.result].join('|');
    const g = out[out.length - 1];
    if (g && g.key === key) { g.n++; g.first = e; continue; }
    out.push({ key, e, first: e, n: 1 });
  }
  return out;
}

const stateWords = { 'unarmed': 'not armed', 'on-main': 'on main', 'on-backup': 'on backup', 'switching-to-backup': 'switching to backup', 'switching-to-main': 'switching to main' };

// opText is an operator's change in words: "operator otto switched cam1 to backup".
function opText(e) {
  const t = e.pair || e.machine || '';
  const side = (/\b(main|backup) "/.exec(e.detail || '') || [])[1];
  switch (e.op) {
    case 'switch': return `switched ${t}${side ? ' to ' + side : ''}`;
    case 'set_mode': return `set the mode of ${t}`;
    case 'set_failback': return `set the failback of ${t}`;
    case 'acknowledge': return `acknowledged an alarm of ${t}`;
    case 'add_backup': return `set the backup of ${t}`;
    case 'remove_backup': return `removed the backup of ${t}`;
    case 'set_feeds': return `changed the feeds of ${t}`;
    case 'set_pool': return `changed pool ${t}`;
    case 'remove_pool': return `removed pool ${t}`;
    case 'simulate': return `simulated a change on ${t}`;
    case 'make_primary': return 'made this supervisor the primary';
    case 'resync': return 'resynced the supervisors';
    case 'test_action': return `tested action ${t}`;
  }
  return `${e.op} ${t}`;
}

// eventText is one event (or a group of the same) in English, with a 24-hour time in milliseconds.
function eventText(e, g) {
  const t = e.time ? fmtClockMs(e.time) : '';
  // A pool's events name the main too; a pair's main is the pair's own.
  const inPool = e.pair && state.status && (state.status.pools || []).some((p) => p.name === e.pair);
  const who = (e.pair ? e.pair + (inPool && e.main ? '/' + e.main : '') : '') || e.machine || '';
  let what = e.kind;
  switch (e.kind) {
    case 'transition':
      what = `${who} ${stateWords[e.to] || e.to}${e.machine ? ' (' + e.machine + ')' : ''}${e.trigger ? ' because of ' + e.trigger : ''}${e.switch_ms ? ', switched in ' + e.switch_ms.toFixed(1) + ' ms' : ''}`;
      break;
    case 'alarm': what = `${who}: alarm ${e.alarm} raised`; break;
    case 'alarm_cleared': what = `${who}: alarm ${e.alarm} cleared`; break;
    case 'machine': what = e.failure ? `${who} failed (${e.failure})` : e.level && e.level !== 'normal' ? `${who} is ${e.level}` : `${who} is ok`; break;
    case 'router': what = `router ${e.router} ${e.conn}`; break;
    case 'routing': what = `router ${e.router} routed`; break;
    case 'operator': what = `operator ${e.operator} ${opText(e)}`; break;
    case 'note': return `${t} ${who}: ${e.detail}`;
    case 'action': what = `action ${e.action} on ${e.event}: ${e.result} (${(e.duration_ms || 0).toFixed(1)} ms)`; break;
  }
  let text = `${t} ${what}${e.detail ? ' — ' + e.detail : ''}`;
  if (g && g.n > 1) {
    const span = (new Date(e.time) - new Date(g.first.time)) / 1000;
    text = `${t} ${e.kind === 'alarm' || e.kind === 'alarm_cleared' ? e.alarm : what} ×${g.n} in ${Math.round(span)} s` + (e.kind === 'alarm' ? ` (${who})` : '') + (e.detail ? ' — ' + e.detail : '');
  }
  return text;
}

let toastTimer = null;
function toast(text, bad) {
  const el = $('toast');
  el.textContent = text;
  el.className = bad ? 'bad' : '';
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 3000);
}

// ---- start ----

$('signin-form').addEventListener('submit', (ev) => { ev.preventDefault(); signIn($('token').value.trim()); });
$('signout').addEventListener('click', () => signOut(''));
window.addEventListener('hashchange', route);
if (state.token) signIn(state.token); else route();
