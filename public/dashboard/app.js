// The dashboard: the public API (/v1/processes, /v1/events, /v1/usage, /ready) with the key the user
// enters, kept in this tab's session storage. Data only ever reaches the page as text (textContent).

const KEY_ITEM = 'claude-cli-gateway.key';
const processes = new Map();
let selected;
let socket;
let lastSeq;
let handling = Promise.resolve();

const $ = (id) => document.getElementById(id);
const key = () => sessionStorage.getItem(KEY_ITEM) ?? '';

async function api(path) {
  const headers = key() ? { authorization: `Bearer ${key()}` } : {};
  const res = await fetch(path, { headers });
  if (res.status === 401) throw new Error(key() ? 'the key is not valid' : 'enter an API key');
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.append(td);
}

const seconds = (p) => (p.started_at && p.completed_at ? `${(p.completed_at - p.started_at).toFixed(2)} s` : p.started_at ? 'running' : '');
const usageOf = (p) => p.result?.usage;
const served = (p) => p.attempts?.at(-1)?.target ?? '';

function renderProcesses() {
  const body = $('processes').querySelector('tbody');
  const rows = [...processes.values()].sort((a, b) => b.created_at - a.created_at).slice(0, 100);
  // Rows are rebuilt on every event: the one that had the keyboard focus gets it back.
  const focused = body.contains(document.activeElement) ? document.activeElement.dataset.id : undefined;
  body.replaceChildren(
    ...rows.map((p) => {
      const row = document.createElement('tr');
      row.dataset.id = p.id;
      if (p.id === selected) row.className = 'selected';
      const u = usageOf(p);
      cell(row, p.id);
      cell(row, p.status, `status-${p.status}`);
      cell(row, p.model);
      cell(row, served(p));
      cell(row, p.key_id ?? '');
      cell(row, seconds(p));
      cell(row, u ? `${u.prompt_tokens} / ${u.completion_tokens}` : '');
      cell(row, p.cost_usd == null ? '' : `$${p.cost_usd.toFixed(6)}`);
      // Selectable by keyboard too: Tab to the row, Enter or Space.
      row.tabIndex = 0;
      row.addEventListener('click', () => select(p.id));
      row.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Enter' && ev.key !== ' ') return;
        ev.preventDefault();
        void select(p.id);
      });
      return row;
    }),
  );
  if (focused) [...body.rows].find((r) => r.dataset.id === focused)?.focus();
  $('errors').replaceChildren(
    ...rows
      .filter((p) => p.status === 'failed')
      .slice(0, 10)
      .map((p) => {
        const li = document.createElement('li');
        li.textContent = `${p.id} (${p.model}): ${p.error?.code ?? ''} ${p.error?.message ?? ''}`;
        return li;
      }),
  );
}

const brief = (v) => {
  const text = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
};

/** What an event adds to its type, in one line. */
function describe(e) {
  switch (e.type) {
    case 'PROCESS_TOOL_USE':
      return ` ${e.name} ${brief(e.input)}`;
    case 'PROCESS_TOOL_RESULT':
      return `${e.is_error ? ' (error)' : ''} ${brief(e.content)}`;
    case 'PROCESS_RETRY':
      return ` ${e.target} → ${e.next_target} in ${e.delay_ms} ms: ${e.error?.code ?? e.error?.message ?? ''}`;
    case 'PROCESS_COMPLETE':
      return ` ${e.status}${e.error ? `: ${e.error.code ?? ''} ${e.error.message ?? ''}` : ''}`;
    default:
      return '';
  }
}

function renderDetail() {
  const p = processes.get(selected);
  if (!p) return;
  $('detail-id').textContent = `${p.id}: ${p.status}, session ${p.session_id}`;
  $('detail-events').replaceChildren(
    ...(p.events ?? []).map((e) => {
      const li = document.createElement('li');
      li.textContent = `${new Date(e.ts * 1000).toLocaleTimeString()} ${e.type}${describe(e)}`;
      return li;
    }),
  );
  // The WebSocket carries a run's events, not its text deltas: the answer shows once it is there.
  const text = p.result?.choices?.[0]?.message?.content;
  const pending = p.status === 'running' || p.status === 'queued' ? `(${p.status}: the answer appears when it completes)` : '';
  $('detail-output').textContent = text ?? (p.error ? `${p.error.code ?? p.error.type ?? 'error'}: ${p.error.message}` : pending);
}

async function select(id) {
  selected = id;
  const known = processes.get(id);
  try {
    processes.set(id, { ...known, ...(await api(`/v1/processes/${encodeURIComponent(id)}`)), events: known?.events ?? [] });
  } catch {
    // Gone (retention) or not this key's: what the list had stays.
  }
  renderProcesses();
  renderDetail();
}

async function onEvent(e) {
  lastSeq = e.seq;
  const known = processes.get(e.process_id) ?? { id: e.process_id, created_at: e.ts, model: e.model, key_id: e.key_id, attempts: [] };
  const events = [...(known.events ?? []), e].slice(-50);
  let next = { ...known, status: e.status, session_id: e.session_id, events };
  if (e.type === 'PROCESS_STARTED') next.started_at = e.ts;
  if (e.type === 'PROCESS_COMPLETE' || e.type === 'PROCESS_QUEUED' || e.type === 'PROCESS_RETRY') {
    try {
      next = { ...next, ...(await api(`/v1/processes/${encodeURIComponent(e.process_id)}`)), events };
    } catch {
      if (e.result) next.result = e.result;
    }
  }
  processes.set(e.process_id, next);
  renderProcesses();
  if (e.process_id === selected) renderDetail();
  if (e.type === 'PROCESS_COMPLETE') void refreshUsage();
}

function connectEvents() {
  socket?.close();
  const params = new URLSearchParams();
  if (key()) params.set('api_key', key());
  if (lastSeq !== undefined) params.set('since', String(lastSeq));
  socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/events?${params}`);
  socket.addEventListener('open', () => ($('connection').textContent = 'live'));
  // One event at a time, in order: each builds on what the one before it left.
  socket.addEventListener('message', (m) => (handling = handling.then(() => onEvent(JSON.parse(m.data))).catch(() => undefined)));
  socket.addEventListener('close', () => {
    $('connection').textContent = 'reconnecting…';
    setTimeout(() => socket?.readyState === WebSocket.CLOSED && connectEvents(), 2000);
  });
}

async function refreshPool() {
  const pool = $('pool');
  try {
    const r = await fetch('/ready').then((res) => res.json());
    const entries = [['status', r.status ?? r.error?.message], ['running', r.running], ['queued', r.queued], ...Object.entries(r.pool ?? {}).map(([k, v]) => [`pool ${k}`, v]), ...(r.warnings ?? []).map((w) => ['warning', w])];
    pool.replaceChildren(
      ...entries.flatMap(([k, v]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = String(v ?? '');
        return [dt, dd];
      }),
    );
  } catch {
    pool.textContent = 'the gateway does not answer';
  }
}

async function refreshUsage() {
  try {
    const { data } = await api('/v1/usage?group_by=key,model');
    $('usage').querySelector('tbody').replaceChildren(
      ...data.map((u) => {
        const row = document.createElement('tr');
        for (const v of [u.key_id ?? '(none)', u.model, u.requests, u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cost_usd == null ? '' : u.cost_usd.toFixed(6)]) cell(row, String(v));
        return row;
      }),
    );
  } catch {
    // No key yet, or a wrong one: the connection line says so.
  }
}

async function connect() {
  try {
    const page = await api('/v1/processes?limit=100');
    processes.clear();
    for (const p of page.data) processes.set(p.id, { ...p, events: [] });
    renderProcesses();
    connectEvents();
    await refreshUsage();
  } catch (err) {
    $('connection').textContent = `not connected: ${err.message}`;
  }
}

$('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY_ITEM, $('key').value);
  void connect();
});
$('key').value = key();
setInterval(refreshPool, 2000);
setInterval(refreshUsage, 10000);
void refreshPool();
void connect();
