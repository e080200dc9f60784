// audit-logs.js pages through the audit log, newest first, and searches
// it on the server. The page refreshes itself while it is shown, sending
// the ETag of the page of events it holds: new events show without a
// reload, and an unchanged page costs a 304.
import './shell.js';
import { $, h, showError, hideError, poll, setRows, timeEl, ready } from './dom.js';
import { getIfChanged, refreshMs } from './lists.js';

const pageSize = 25;
const table = $('#audit');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const newer = $('#newer');
const older = $('#older');
let start = 0;
let total = 0;
let etag = ''; // of the page of events shown

const search = $('#audit-search');
const where = $('#audit-location');

// load shows the page of events; with refresh, only if it changed.
async function load(refresh = false) {
  try {
    const q = new URLSearchParams({ start: String(start), max_items: String(pageSize) });
    if (search.value.trim()) q.set('q', search.value.trim());
    if (where.value.trim()) q.set('location', where.value.trim());
    const got = await getIfChanged(`/api/audit-logs?${q}`, refresh ? etag : '');
    if (!got) return;
    etag = got.etag;
    const data = got.data;
    total = data.count;
    const items = data.items || [];
    const filtered = q.has('q') || q.has('location');
    $('#empty').hidden = items.length > 0 || filtered;
    $('#none-found').hidden = items.length > 0 || !filtered;
    table.hidden = items.length === 0;
    setRows(tbody, items, (e) => e.audit_log_id, row);
    $('#range').textContent = items.length ? `${start + 1}–${start + items.length} of ${total}` : '';
    newer.disabled = start === 0;
    older.disabled = start + pageSize >= total;
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

// propLabels are the words a person reads for the properties an event
// may have; another property is named by its key (space_id: "Space id").
const propLabels = { ip: 'From', user_agent: 'Browser', reason: 'Reason', duration: 'Duration', session: 'Session' };
const propOrder = Object.keys(propLabels);

// propLabel names the property key.
function propLabel(key) {
  if (propLabels[key]) return propLabels[key];
  const words = key.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// props shows an event's properties as labelled pairs: the ones a person
// reads first (where from, which browser), then the others by name. Ids
// show in monospace; a long value wraps, whole, in its column.
function props(properties) {
  const rank = (k) => (propOrder.includes(k) ? propOrder.indexOf(k) : propOrder.length);
  const keys = Object.keys(properties || {}).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (!keys.length) return null;
  return h('dl', { class: 'props' }, keys.flatMap((k) => {
    const v = String(properties[k]);
    const id = k === 'session' || k.endsWith('_id');
    return [
      h('dt', { text: propLabel(k) }),
      h('dd', { class: id ? 'id' : null, dataset: { key: k }, text: v }),
    ];
  }));
}

function row(e) {
  return h('tr', {},
    h('td', { class: 'nowrap' }, timeEl(e.when)),
    h('td', {}, h('div', { text: e.actor || '—' }), e.actor_type && h('div', { class: 'sub', text: e.actor_type })),
    h('td', { class: 'nowrap', text: e.event }),
    h('td', { class: 'details' }, h('div', { text: e.details || '' }), props(e.properties)),
    h('td', { text: e.location || '—' }));
}

newer.addEventListener('click', () => { start = Math.max(0, start - pageSize); load(); });
older.addEventListener('click', () => { start += pageSize; load(); });
// The log is searched on the server (its newest 100,000 events).
let timer = 0;
for (const input of [search, where]) {
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { start = 0; load(); }, 250);
  });
}

load().then(ready);
poll(() => load(true), refreshMs);
