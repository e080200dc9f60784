// leaves.js shows the fleet of an origin: every leaf it saw since it
// started. A server that is not an origin has none, and says so.
import './shell.js';
import { api } from './api.js';
import { $, h, showError, hideError, poll, setRows, fmtTime, ago, ready } from './dom.js';

const table = $('#leaves');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const notOrigin = $('#not-origin');
const standalone = document.body.dataset.role === 'standalone';

function showNotOrigin() {
  notOrigin.hidden = false;
  table.hidden = true;
  $('#empty').hidden = true;
}

async function load() {
  let data;
  try {
    data = await api('GET', '/api/leaves');
  } catch (err) {
    // A server without the fleet view is not an origin. Other refusals (a
    // leaf whose origin is unreachable, or that does not know this
    // session) are shown as the server gave them.
    if (err.status === 404) {
      hideError(pageError);
      showNotOrigin();
    } else {
      showError(pageError, err);
    }
    return false;
  }
  hideError(pageError);
  if (standalone) {
    showNotOrigin();
    return false;
  }
  const leaves = (data.leaves || []).sort((a, b) =>
    a.location.localeCompare(b.location) || a.node_id.localeCompare(b.node_id));
  notOrigin.hidden = true;
  $('#empty').hidden = leaves.length > 0;
  table.hidden = leaves.length === 0;
  setRows(tbody, leaves, (l) => l.node_id, row);
  return true;
}

function row(l) {
  return h('tr', { dataset: { node: l.node_id } },
    h('td', {},
      h('code', { text: l.node_id }), ' ',
      h('span', { class: `badge ${l.connected ? 'state-running' : 'state-stopped'}`, text: l.connected ? 'connected' : 'disconnected' }),
      l.restricted && h('span', { class: 'badge muted', text: 'restricted' }),
      l.epoch_changes > 0 && h('span', {
        class: 'badge state-failed',
        text: 'new epoch',
        title: `its replica of epoch ${l.previous_epoch} was replaced at ${fmtTime(l.epoch_changed_at)} (${l.epoch_changes} times since this origin started); the leaf keeps a copy`,
      })),
    h('td', { text: l.location }),
    h('td', { text: l.version || '—' }),
    h('td', { class: 'num', text: String(l.protocol || '—') }),
    h('td', { text: (l.runtimes || []).join(', ') || 'manual only' }),
    h('td', { class: 'nowrap', text: fmtTime(l.connected_since) }),
    h('td', { class: 'nowrap', text: ago(l.last_seen), title: fmtTime(l.last_seen) }),
    h('td', { class: 'num nowrap', text: l.connected ? `${Number(l.round_trip_ms || 0).toFixed(1)} ms` : '—' }),
    h('td', { class: 'num', text: String(l.applied_revision ?? '—') }),
    h('td', { class: 'num', text: String(l.lag ?? '—') }));
}

// leafStatus shows, on a leaf, how its link to the origin is.
async function leafStatus() {
  const box = $('#leaf-status');
  try {
    const s = await api('GET', '/api/leaf/status');
    const rows = [
      ['Origin', s.origin_server],
      ['Link', s.origin_reachable ? `up since ${fmtTime(s.since)}` : `down since ${fmtTime(s.since)}${s.reason ? ': ' + s.reason : ''}`],
      ['Next attempt', s.origin_reachable ? '' : fmtTime(s.next_attempt)],
      ['Location', s.location],
      ['Protocol', s.protocol ? String(s.protocol) : ''],
      ['Applied revision', `${s.applied_revision} of ${s.head_revision} (lag ${s.lag})`],
      ['Epoch', s.previous_epoch ? `${s.epoch}, new since ${fmtTime(s.epoch_changed_at)}: it replaced the replica of epoch ${s.previous_epoch}, a copy of which is in ${s.replica_backup}` : s.epoch],
      ['Reports waiting', String(s.pending_reports)],
      ['Restricted', s.restricted ? 'yes: the origin shares no password hashes and no restricted variables' : 'no'],
    ].filter(([, v]) => v);
    $('dl', box).replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]));
    box.hidden = false;
  } catch (err) {
    showError(pageError, err);
  }
}

if (document.body.dataset.role === 'leaf') {
  leafStatus();
  poll(leafStatus, 5000);
}

load().then((origin) => {
  ready();
  if (origin) poll(load, 5000);
});
