// spaces.js is the spaces dashboard: one page of the user's spaces (or
// everyone's) at a time, searched, filtered by state, location and owner,
// and sorted on the server, each with its state at a glance and one click
// to its terminal, its SSH host and its web apps. It creates, starts, stops
// and deletes spaces. Every few seconds it asks again for the page it
// shows, sending the page's ETag: the server answers 304 without a body
// until something on it changed.
import './shell.js';
import { api, path } from './api.js';
import {
  $, $$, h, PERM, perms, showError, hideError, confirmAction, poll, setRows, Editor, secretNotice, ready,
} from './dom.js';
import { runAction, rowLabel, announce } from './feedback.js';
import { ListView, countOf } from './lists.js';
import { webPortLinks } from './ports.js';
import { agentLate, showStateBadge } from './spacestate.js';

const can = perms();
const table = $('#spaces');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const notice = $('#notice');
const showAll = $('#show-all');
const stateBox = $('#state-filters');
const locationInput = $('#location-filter');
const ownerInput = $('#owner-filter');
const editor = new Editor('#editor');
const pending = new Set(); // ids of spaces with an action under way
const me = ($('#username') || {}).textContent || '';
let templates = [];

const states = ['running', 'starting', 'pending', 'stopping', 'stopped', 'failed', 'deleting'];
const canStart = new Set(['stopped', 'failed']);
const canStop = new Set(['running', 'starting']);
const moving = new Set(['pending', 'starting', 'stopping', 'deleting']);
const fmt = new Intl.NumberFormat();

const url = new URLSearchParams(location.search);
let state = url.get('state') || '';
locationInput.value = url.get('location') || '';
ownerInput.value = url.get('owner') || '';
// Everyone's spaces stays ticked, or not, as the user last chose, until
// the page's address says otherwise.
const allKey = 'knot.spaces.all';
showAll.checked = can.has(PERM.ManageSpaces)
  && (url.has('all') ? url.get('all') === 'true' : localStorage.getItem(allKey) === 'true');

// Icons are inline SVG paths (24-unit grid, stroked), no icon font.
const icons = {
  terminal: 'M4 17l6-5-6-5M12 19h8',
  key: 'M15 7a4 4 0 1 1-3.9 4.9L4 19v-3h3v-3h3l1.1-1.1A4 4 0 0 1 15 7z',
  link: 'M14 4h6v6M20 4l-9 9M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5',
  play: 'M7 5l12 7-12 7z',
  stop: 'M7 7h10v10H7z',
  trash: 'M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13',
  box: 'M12 3l8 4.5v9L12 21l-8-4.5v-9L12 3zM4 7.5l8 4.5 8-4.5M12 12v9',
};

function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', icons[name]);
  svg.append(p);
  return svg;
}

const list = new ListView({
  path: '/api/spaces',
  key: 'spaces',
  sort: 'name',
  pageSize: 50,
  etags: true,
  table,
  search: $('#space-search'),
  pager: $('#space-pager'),
  filters: () => ({
    all: showAll.checked ? 'true' : '',
    state,
    location: locationInput.value.trim(),
    owner: showAll.checked ? ownerInput.value.trim() : '',
  }),
  render,
  onError: (err) => showError(pageError, err),
});

async function load(refresh = false) {
  try {
    await list.load(refresh);
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

function filtering() {
  return Boolean(list.q || state || locationInput.value.trim() || (showAll.checked && ownerInput.value.trim()));
}

let lastSpaces = [];
let lastData = { states: {} };

function render(spaces, data) {
  lastSpaces = spaces;
  lastData = data;
  const all = showAll.checked;
  for (const el of $$('th.owner-col')) el.hidden = !all;
  $('.owner-filter').hidden = !all;
  const total = Object.values(data.states || {}).reduce((a, b) => a + b, 0);
  const empty = total === 0 && !filtering();
  $('#empty').hidden = !empty;
  $('#others').hidden = true;
  if (empty && !all && can.has(PERM.ManageSpaces)) showOthers();
  $('#none-found').hidden = spaces.length > 0 || !filtering();
  table.hidden = spaces.length === 0;
  $('#space-tools').hidden = total === 0 && !filtering();
  renderStates(data.states || {}, total);
  renderLocations(spaces);
  const dup = duplicateNames(spaces);
  lateKey = lateOnes(spaces);
  setRows(tbody, spaces, (s) => s.space_id, (s) => row(s, dup),
    (s) => JSON.stringify([s, all, pending.has(s.space_id), dup.has(dupKey(s)), agentLate(s, false)]));
}

// lateOnes names the spaces shown that run without their agent: a space
// becomes one as time passes, while the server's answer stays the same.
let lateKey = '';
const lateOnes = (spaces) => spaces.filter((s) => agentLate(s, false)).map((s) => s.space_id).join(' ');

// refresh asks for the page again, and shows it again if a space shown
// has since run too long without its agent.
async function refresh() {
  await load(true);
  if (lateOnes(lastSpaces) !== lateKey) render(lastSpaces, lastData);
}

// showOthers tells a user who has no space but may see everyone's how
// many others have, in place of "No spaces yet".
async function showOthers() {
  let n = 0;
  try {
    const data = await api('GET', '/api/spaces?all=true&limit=1');
    n = data.total || 0;
  } catch {
    return; // the list's own refresh reports a failing server
  }
  // A later page (own spaces, or everyone's) may have come meanwhile.
  if (n === 0 || showAll.checked || $('#empty').hidden) return;
  $('#others-count').textContent = countOf(n, 'space', 'spaces');
  $('#show-others').textContent = `Show everyone's spaces (${fmt.format(n)})`;
  $('#empty').hidden = true;
  $('#others').hidden = false;
}

function renderStates(counts, total) {
  const shown = [h('button', {
    type: 'button', class: 'chip', 'aria-pressed': String(state === ''), dataset: { state: '' },
    onclick: () => setState(''),
  }, 'All ', h('span', { class: 'count', text: fmt.format(total) }))];
  for (const st of states) {
    const n = counts[st] || 0;
    if (n === 0 && state !== st) continue;
    shown.push(h('button', {
      type: 'button', class: `chip state-${st}`, 'aria-pressed': String(state === st), dataset: { state: st },
      onclick: () => setState(st),
    }, h('span', { class: 'dot', 'aria-hidden': 'true' }), `${st} `, h('span', { class: 'count', text: fmt.format(n) })));
  }
  const focused = document.activeElement && stateBox.contains(document.activeElement)
    ? document.activeElement.dataset.state : null;
  stateBox.replaceChildren(...shown);
  if (focused !== null) stateBox.querySelector(`[data-state="${focused}"]`)?.focus();
  $('#space-summary').textContent = summary(counts, total);
}

// summary says what the list counts: every space shown (or every one that
// matches the search, location and owner), and of those how many run and
// failed; with a state chip on, how many of them are in that state.
function summary(counts, total) {
  if (!total) return '';
  const narrowed = Boolean(list.q || locationInput.value.trim() || (showAll.checked && ownerInput.value.trim()));
  const spaces = countOf(total, 'space', 'spaces', narrowed);
  if (state) return `${fmt.format(counts[state] || 0)} ${state} of ${spaces}`;
  const parts = [spaces];
  for (const st of ['running', 'failed']) if (counts[st]) parts.push(`${fmt.format(counts[st])} ${st}`);
  return parts.join(' · ');
}

function renderLocations(spaces) {
  const dl = $('#location-list');
  const have = new Set([...dl.options].map((o) => o.value));
  for (const s of spaces) {
    if (s.location && !have.has(s.location)) {
      have.add(s.location);
      dl.append(h('option', { value: s.location }));
    }
  }
}

function setState(st) {
  state = st;
  list.reset().catch((err) => showError(pageError, err));
}

const dupKey = (s) => `${s.user_id}/${s.name.toLowerCase()}`;

// duplicateNames returns the owner/name pairs held at several locations:
// their SSH host names carry the location, as knot ssh-config writes them.
function duplicateNames(spaces) {
  const seen = new Map();
  for (const s of spaces) seen.set(dupKey(s), (seen.get(dupKey(s)) || 0) + 1);
  return new Set([...seen].filter(([, n]) => n > 1).map(([k]) => k));
}

function row(s, dup) {
  // A space whose location this server cannot reach now shows its last
  // reported state, marked unreachable, and offers no action that would
  // fail.
  const away = s.reachable === false;
  const busy = pending.has(s.space_id) || moving.has(s.state) || away;
  const running = !away && s.state === 'running';
  const spacePage = `/spaces/${encodeURIComponent(s.space_id)}`;
  const button = (label, verb, cls, ic) => h('button', {
    type: 'button', class: `small ${cls || ''}`, disabled: busy, dataset: { action: verb },
    'aria-label': rowLabel(label, s.name),
    title: away ? `Location ${s.location} cannot be reached: ${s.unreachable_reason}` : null,
    onclick: () => act(s, verb),
  }, icon(ic), h('span', { class: 'label', text: label }));
  const host = `knot.${s.name}${dup.has(dupKey(s)) ? `.${s.location}` : ''}`;
  const own = s.username === me;
  // A running space whose agent has not connected in a while cannot be
  // used: its badge says so (a manual space's state is running only once
  // its agent linked).
  const badges = () => [
    showStateBadge(h('span', {}), s, away, agentLate(s, false)),
    s.update_available && h('span', {
      class: 'badge update', text: 'update available', title: 'The template changed since this space was deployed.',
    }),
  ];
  return h('tr', { dataset: { name: s.name, state: s.state, reachable: String(!away) } },
    h('td', { class: 'name-col' },
      h('div', { class: 'name' }, icon('box'), h('a', { href: spacePage, text: s.name })),
      // On a phone the state shows here, under the name, where the row's
      // buttons leave it room; its reason is on the space's page.
      h('div', { class: 'state-under' }, ...badges()),
      s.description && h('div', { class: 'sub', text: s.description }),
      running && (s.http_ports || []).length > 0 && h('div', { class: 'sub web-ports' }, ...webPortLinks(s))),
    h('td', { class: 'owner-col', hidden: !showAll.checked, text: s.username || '' }),
    h('td', { text: s.template_name || '—' }),
    h('td', { text: s.location || '—' }),
    h('td', { class: 'state-cell' },
      ...badges(),
      away && h('div', { class: 'reason unreachable', text: `Last reported ${s.state}; ${s.unreachable_reason}.` }),
      s.reason && h('div', { class: 'reason', text: s.reason })),
    h('td', { class: 'actions-col' },
      h('div', { class: 'row-actions' },
        // A space has a terminal only while its agent is connected (as
        // this server hears of it): no link to a page without one.
        running && s.with_terminal !== false && s.agent?.connected && h('a', {
          class: 'button small', href: `${spacePage}#terminal-title`, 'aria-label': rowLabel('Terminal of', s.name),
          title: `Open the terminal of ${s.name}`,
        }, icon('terminal'), h('span', { class: 'label', text: 'Terminal' })),
        own && s.with_ssh !== false && h('details', { class: 'ssh' },
          h('summary', { class: 'button small', 'aria-label': rowLabel('SSH to', s.name), title: `Connect to ${s.name} with SSH` },
            icon('key'), h('span', { class: 'label', text: 'SSH' })),
          h('div', { class: 'ssh-box' },
            h('code', { text: `ssh ${host}` }),
            h('p', { class: 'hint' }, 'Run ', h('code', { text: 'knot ssh-config update' }), ' once on your machine first.'))),
        canStart.has(s.state) && button('Start', 'start', 'primary', 'play'),
        canStop.has(s.state) && button('Stop', 'stop', '', 'stop'),
        button('Delete', 'delete', 'danger', 'trash'))));
}

async function act(s, verb) {
  if (verb === 'delete' && !await confirmAction(`Delete the space ${s.name}? Its runtime resources are removed too.`)) {
    return;
  }
  pending.add(s.space_id);
  render(lastSpaces, lastData);
  await runAction({
    tbody,
    key: s.space_id,
    verb,
    fn: () => (verb === 'delete'
      ? api('DELETE', path('spaces', s.space_id))
      : api('POST', path('spaces', s.space_id, verb))),
    refresh: () => {
      pending.delete(s.space_id);
      return load();
    },
    failure: (err) => `Could not ${verb} ${s.name}: ${err.message}`,
    success: verb === 'delete' ? `Space ${s.name} deleted.` : null,
  });
}

if (can.has(PERM.ManageSpaces)) {
  $('#all-toggle').hidden = false;
  showAll.addEventListener('change', () => {
    localStorage.setItem(allKey, String(showAll.checked));
    list.reset().catch((err) => showError(pageError, err));
  });
  $('#show-others').addEventListener('click', () => {
    showAll.checked = true;
    showAll.dispatchEvent(new Event('change'));
    showAll.focus();
  });
}
let filterTimer = 0;
for (const input of [locationInput, ownerInput]) {
  input.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => list.reset().catch((err) => showError(pageError, err)), 250);
  });
}
$('#clear-filters').addEventListener('click', () => {
  state = '';
  list.q = '';
  list.search.value = '';
  locationInput.value = '';
  ownerInput.value = '';
  list.reset().catch((err) => showError(pageError, err));
});

// The New space dialog finds a template by typing: each search asks the
// server for the first matching templates.
const templateSearch = $('#template-search');
const templatePage = 20;

async function findTemplates() {
  const q = templateSearch.value.trim();
  const data = await api('GET', `/api/templates?sort=name&limit=${templatePage}${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  templates = data.templates;
  const select = editor.el('template_id');
  const keep = select.value;
  select.replaceChildren(...templates.map((t) =>
    h('option', { value: t.template_id, text: t.description ? `${t.name} — ${t.description}` : t.name })));
  if (templates.some((t) => t.template_id === keep)) select.value = keep;
  else if (templates.length > 0) select.selectedIndex = 0;
  const total = typeof data.total === 'number' ? data.total : templates.length;
  $('#template-count').textContent = total > templates.length
    ? `Showing ${templates.length} of ${fmt.format(total)} templates; type to find others.`
    : `${fmt.format(total)} ${total === 1 ? 'template' : 'templates'}${q ? ' match' : ''}.`;
  $('#no-templates').hidden = total > 0 || q !== '';
}

let searchTimer = 0;
templateSearch.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => findTemplates().catch((err) => {
    $('#template-count').textContent = `Could not search the templates: ${err.message}`;
  }), 200);
});

$('#new-space').addEventListener('click', async () => {
  templateSearch.value = '';
  try {
    await findTemplates();
  } catch (err) {
    announce('error', `Could not list the templates: ${err.message}`, () => $('#new-space'));
    return;
  }
  editor.open('New space', {});
  // Opening empties the form: the first template stays chosen, so a
  // person with one template has nothing to pick.
  const select = editor.el('template_id');
  if (!select.value && select.options.length > 0) select.selectedIndex = 0;
});

// agentHowto says what to do with a new manual space's agent token: run
// knot agent with it on the machine of the space, as the space's page
// says too.
function agentHowto(name, created) {
  const id = created.space_id;
  return h('p', { class: 'hint agent-howto' },
    'Start the space, then run its agent on a machine of yours: give it the token as ', h('code', { text: 'KNOT_AGENT_TOKEN' }),
    ', with ', h('code', { text: `KNOT_SPACE_ID=${id}` }), ', to ', h('code', { text: 'knot agent' }),
    '. Or, there, with the knot CLI, run ', h('code', { text: `knot space agent-env ${name} > agent.env` }),
    ' (it makes a new token) and then ', h('code', { text: 'env $(cat agent.env) knot agent' }), '. ',
    h('a', { href: `/spaces/${encodeURIComponent(id)}#terminal-title` }, `The page of ${name}`), ' says so too while it runs.');
}

editor.onSave(async (e) => {
  const body = { name: e.text('name'), template_id: e.raw('template_id') };
  if (e.text('description')) body.description = e.text('description');
  if (e.text('location')) body.location = e.text('location');
  const created = await api('POST', '/api/spaces', body);
  const t = templates.find((x) => x.template_id === body.template_id);
  if (t && t.kind === 'manual' && created.agent_token) {
    secretNotice(notice, `Space ${body.name} created. Its agent needs this token, shown only now:`, created.agent_token);
    notice.append(agentHowto(body.name, created));
  }
  await load();
});

load().then(ready);
poll(refresh, 3000);
