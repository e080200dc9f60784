// leaves.js shows the fleet of an origin: every leaf it saw since it
// started, each location its store knows where no leaf came since, and the
// leaf tokens, which it issues, rotates and revokes. A server that is not
// an origin has none, and says so.
import './shell.js';
import { api, path } from './api.js';
import {
  $, h, showError, hideError, poll, setRows, fmtTime, timeEl, ago, ready, confirmAction, secretNotice, Editor,
} from './dom.js';
import { runAction, rowLabel, showFormError, clearFieldErrors } from './feedback.js';
import { Related, refreshMs } from './lists.js';

const table = $('#leaves');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const notOrigin = $('#not-origin');
const role = document.body.dataset.role;
const originVersion = document.body.dataset.version || '';
const tokensSection = $('#leaf-tokens-section');
const tokenTable = $('#leaf-tokens');
const tokenBody = $('tbody', tokenTable);
const tokenForm = $('#leaf-token-form');
const notice = $('#notice');
const rotator = new Editor('#rotate-dialog');
// The leaves and the leaf tokens, asked for again with the ETags of those
// shown: an unchanged list costs a 304.
const leavesList = new Related('/api/leaves');
const tokensList = new Related('/api/leaf-tokens');

function showNotOrigin() {
  notOrigin.hidden = false;
  table.hidden = true;
  $('#empty').hidden = true;
  tokensSection.hidden = true;
}

// compareVersions compares dotted versions ("1.4.2", "v1.10"): <0, 0 or
// >0; null when either is not one (a "dev" build).
function compareVersions(a, b) {
  const parse = (v) => {
    const m = /^v?(\d+(?:\.\d+)*)/.exec(v || '');
    return m ? m[1].split('.').map(Number) : null;
  };
  const x = parse(a);
  const y = parse(b);
  if (!x || !y) return null;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] || 0) - (y[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

// versionBadge flags a leaf whose version is not the origin's: older
// (outdated), newer, or not comparable (a development build).
function versionBadge(v) {
  if (!v || !originVersion || v === originVersion) return null;
  const c = compareVersions(v, originVersion);
  if (c === null) {
    return h('span', { class: 'badge muted', text: 'differs', title: `The origin runs ${originVersion}.` });
  }
  if (c > 0) {
    return h('span', { class: 'badge update', text: 'newer', title: `The origin runs ${originVersion}.` });
  }
  return h('span', { class: 'badge state-failed', text: 'outdated', title: `The origin runs ${originVersion}: upgrade this leaf.` });
}

async function load() {
  let data;
  try {
    await leavesList.fetch();
    data = leavesList.data;
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
  if (role === 'standalone') {
    showNotOrigin();
    return false;
  }
  if (role === 'origin') await loadTokens();
  // The locations the origin's store knows (by their spaces or leaf
  // tokens) where no leaf connected since the origin started are shown
  // disconnected too: after a restart, the leaves that did not come back.
  const leaves = [...(data.leaves || []),
    ...(data.unseen_locations || []).map((u) => ({ ...u, node_id: '', unseen: true }))];
  leaves.sort((a, b) => a.location.localeCompare(b.location) || a.node_id.localeCompare(b.node_id));
  notOrigin.hidden = true;
  $('#empty').hidden = leaves.length > 0;
  table.hidden = leaves.length === 0;
  $('#leaves-legend').hidden = leaves.length === 0;
  setRows(tbody, leaves, (l) => l.node_id || `location:${l.location}`, row, (l) => JSON.stringify([l, tokenOf(l)]));
  return true;
}

function plural(n, one) {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

// unseenText says what the origin holds of a location no leaf connected to
// since the origin started.
function unseenText(l) {
  const held = [l.spaces && plural(l.spaces, 'space'), l.leaf_tokens && plural(l.leaf_tokens, 'leaf token')].filter(Boolean);
  return `No leaf of this location has connected since this origin started${held.length ? `; it has ${held.join(' and ')}` : ''}.`;
}

function row(l) {
  if (l.unseen) {
    return h('tr', { dataset: { location: l.location, connected: 'false' } },
      h('td', {},
        h('span', { class: 'badge state-stopped', text: 'disconnected' }),
        h('div', { class: 'sub', text: unseenText(l) })),
      h('td', { text: l.location }),
      ...Array.from({ length: 8 }, () => h('td', { text: '—' })));
  }
  return h('tr', { dataset: { node: l.node_id, location: l.location, connected: String(l.connected) } },
    h('td', {},
      h('code', { text: l.node_id }), ' ',
      h('span', { class: `badge ${l.connected ? 'state-running' : 'state-stopped'}`, text: l.connected ? 'connected' : 'disconnected' }),
      l.restricted && h('span', { class: 'badge muted', text: 'restricted' }),
      l.epoch_changes > 0 && h('span', {
        class: 'badge state-failed',
        text: 'new epoch',
        title: `its replica of epoch ${l.previous_epoch} was replaced at ${fmtTime(l.epoch_changed_at)} (${l.epoch_changes} times since this origin started); the leaf keeps a copy`,
      }),
      credentialText(l) && h('div', { class: 'sub wrap credential', text: credentialText(l) })),
    h('td', { text: l.location }),
    h('td', { class: 'nowrap' }, h('span', { class: 'version', text: l.version || '—' }), ' ', versionBadge(l.version),
      // The badge's title is not seen on a phone or from the keyboard: the
      // origin's version is said in words too.
      versionBadge(l.version) && h('div', { class: 'sub wrap', text: `the origin runs ${originVersion}` })),
    h('td', { class: 'num', text: String(l.protocol || '—') }),
    h('td', { text: (l.runtimes || []).join(', ') || 'manual only' }),
    h('td', { class: 'nowrap' }, l.connected ? timeEl(l.connected_since) : '—'),
    h('td', { class: 'nowrap' }, timeEl(l.last_seen, l.connected ? ago(l.last_seen) : `${ago(l.last_seen)} (disconnected)`)),
    h('td', { class: 'num nowrap', text: l.connected ? `${Number(l.round_trip_ms || 0).toFixed(1)} ms` : '—' }),
    h('td', { class: 'num', text: String(l.applied_revision ?? '—') }),
    h('td', { class: 'num', text: String(l.lag ?? '—') }));
}

// tokenOf is the leaf token, as listed, that the leaf node l came with.
function tokenOf(l) {
  const tokens = (tokensList.data && tokensList.data.leaf_tokens) || [];
  return l.leaf_token_id ? tokens.find((t) => t.leaf_token_id === l.leaf_token_id) || null : null;
}

// credentialText says what the leaf node l came with.
function credentialText(l) {
  switch (l.credential) {
    case 'shared': return 'with the shared token (server.shared_token)';
    case 'api_token': return "with its owner's API token";
    case 'leaf_token': {
      const t = tokenOf(l);
      return t ? `with the leaf token ${tokenLabel(t)}` : 'with a leaf token that is no longer issued';
    }
    default: return '';
  }
}

// usersOf are the node ids of the connected leaves that came with the leaf
// token t.
function usersOf(t) {
  const leaves = (leavesList.data && leavesList.data.leaves) || [];
  return leaves.filter((l) => l.connected && l.leaf_token_id === t.leaf_token_id).map((l) => l.node_id);
}

// loadTokens lists the leaf tokens of this origin.
async function loadTokens() {
  let tokens;
  try {
    await tokensList.fetch();
    tokens = tokensList.data.leaf_tokens || [];
  } catch (err) {
    showError(pageError, err);
    return;
  }
  tokensSection.hidden = false;
  $('#tokens-empty').hidden = tokens.length > 0;
  tokenTable.hidden = tokens.length === 0;
  setRows(tokenBody, tokens, (t) => t.leaf_token_id, tokenRow, (t) => JSON.stringify([t, usersOf(t)]));
  if (rotated && !tokens.some((t) => t.leaf_token_id === rotated.old && !t.expired)) {
    // The token the rotation replaced no longer works: the notice must
    // not say it does.
    rotated.said.textContent = `New leaf token for location ${rotated.location}, shown only now (the token it replaced no longer works):`;
    rotated = null;
  }
}

// replaced is whether t is a token that a rotation replaced: one that
// works until its expiry.
function replaced(t) {
  return Boolean(t.expires_at) && !t.expired;
}

// tokenLabel names the token t among the others of its location, which a
// rotation gives the same name: by its issue date, and, for the one a
// rotation replaced, its end.
function tokenLabel(t) {
  const name = t.name ? `“${t.name}” of ${t.location}` : `the token of ${t.location}`;
  let label = `${name}, issued ${fmtTime(t.created_at)}`;
  if (replaced(t)) label += `, the one a rotation replaced, working until ${fmtTime(t.expires_at)}`;
  else if (t.expired) label += `, expired ${fmtTime(t.expires_at)}`;
  return label;
}

function tokenRow(t) {
  const label = `${t.name || t.location} issued ${fmtTime(t.created_at)}`;
  let expires = 'never';
  if (t.expires_at) expires = `${t.expired ? 'expired' : 'expires'} ${fmtTime(t.expires_at)}`;
  const users = usersOf(t);
  return h('tr', { dataset: { location: t.location, name: t.name, expired: String(t.expired), replaced: String(replaced(t)) } },
    h('td', { text: t.location }),
    h('td', { class: 'name', text: t.name || '—' }),
    h('td', { class: 'nowrap' }, timeEl(t.created_at)),
    h('td', { class: `nowrap${t.expired ? ' state-failed' : ''}` }, expires,
      replaced(t) && h('div', { class: 'sub wrap', text: 'replaced by a rotation: it stops then' })),
    h('td', { class: 'used-by', text: users.length ? users.join(', ') : 'no connected leaf' }),
    h('td', { class: 'actions-col' },
      // A token a rotation replaced is rotated already: its successor is.
      !t.expired && !replaced(t) && h('button', {
        type: 'button', class: 'small', text: 'Rotate', dataset: { action: 'rotate' },
        'aria-label': rowLabel('Rotate', label), onclick: () => rotate(t),
      }),
      h('button', {
        type: 'button', class: 'small danger', text: 'Revoke', dataset: { action: 'revoke' },
        'aria-label': rowLabel('Revoke', label), onclick: () => revoke(t),
      })));
}

let rotating = null;
function rotate(t) {
  rotating = t;
  rotator.open(`Rotate ${tokenLabel(t)}`, { overlap: '24h' });
  $('#rotate-what').textContent = `A new token for location ${t.location} is issued and shown once. The leaf must be given it before the old one stops.`;
}

// rotated is the last rotation whose notice says the old token still
// works: the old token's id, its location, and the notice's words.
let rotated = null;

rotator.onSave(async (e) => {
  const t = rotating;
  const created = await api('POST', path('leaf-tokens', t.leaf_token_id, 'rotate'), { overlap: e.raw('overlap') });
  const overlap = e.el('overlap').selectedOptions[0].textContent;
  const words = e.raw('overlap') === '0s' ? 'the old one stopped at once'
    : `the old one keeps working for ${overlap}, until ${fmtTime(new Date(Date.now() + durationMs(e.raw('overlap'))))}`;
  secretNotice(notice, `New leaf token for location ${t.location}, shown only now (${words}):`, created.token);
  rotated = { old: t.leaf_token_id, location: t.location, said: $('span', notice) };
  await load();
});

// durationMs is the length of an overlap ("1h", "24h", "168h", "0s").
function durationMs(d) {
  const m = /^(\d+)([hms])$/.exec(d);
  return m ? Number(m[1]) * { h: 3600e3, m: 60e3, s: 1e3 }[m[2]] : 0;
}

async function revoke(t) {
  const users = usersOf(t);
  const using = users.length ? ` It is in use by ${users.join(', ')}, which is disconnected at once and cannot connect with it again.`
    : ' No connected leaf uses it now; a leaf that does cannot connect with it again.';
  if (!await confirmAction(`Revoke the leaf token ${tokenLabel(t)}?${using}`, 'Revoke')) return;
  await runAction({
    tbody: tokenBody,
    key: t.leaf_token_id,
    verb: 'revoke',
    fn: () => api('DELETE', path('leaf-tokens', t.leaf_token_id)),
    refresh: load,
    failure: (err) => `Could not revoke ${tokenLabel(t)}: ${err.message}`,
    success: `Leaf token ${tokenLabel(t)} revoked.`,
  });
}

tokenForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const formError = $('.error', tokenForm);
  hideError(formError);
  clearFieldErrors(tokenForm);
  const location = tokenForm.elements.namedItem('location').value.trim();
  const name = tokenForm.elements.namedItem('name').value.trim();
  const button = $('button[type="submit"]', tokenForm);
  button.disabled = true;
  try {
    const created = await api('POST', '/api/leaf-tokens', { location, name });
    secretNotice(notice, `Leaf token for location ${location} issued. Its secret is shown only now:`, created.token);
    tokenForm.reset();
    await load();
  } catch (err) {
    showFormError(tokenForm, formError, err);
  } finally {
    button.disabled = false;
  }
});

// leafStatus shows, on a leaf, how its link to the origin is.
async function leafStatus() {
  const box = $('#leaf-status');
  try {
    const s = await api('GET', '/api/leaf/status');
    const rows = [
      ['Origin', s.origin_server],
      ['Link', s.origin_reachable ? `up since ${fmtTime(s.since)}` : `down since ${fmtTime(s.since)}${s.reason ? ': ' + s.reason : ''}`],
      ['The error in full', s.origin_reachable ? '' : s.reason_detail],
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

if (role === 'leaf') {
  leafStatus();
  poll(leafStatus, 5000);
}

load().then((origin) => {
  ready();
  if (origin) poll(load, refreshMs);
});
