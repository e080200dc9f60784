// spaces.js lists the user's spaces, refreshes them every few seconds, and
// creates, starts, stops and deletes them.
import './shell.js';
import { api, path } from './api.js';
import {
  $, $$, h, PERM, perms, showError, hideError, confirmAction, poll, setRows, Editor, secretNotice, ready,
} from './dom.js';
import { runAction, rowLabel, announce } from './feedback.js';

const can = perms();
const table = $('#spaces');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const notice = $('#notice');
const showAll = $('#show-all');
const editor = new Editor('#editor');
const pending = new Set(); // ids of spaces with an action under way
let spaces = [];
let templates = [];

const canStart = new Set(['stopped', 'failed']);
const canStop = new Set(['running', 'starting']);
const moving = new Set(['pending', 'starting', 'stopping', 'deleting']);

if (can.has(PERM.ManageSpaces)) {
  $('#all-toggle').hidden = false;
  showAll.addEventListener('change', load);
}

async function load() {
  try {
    const data = await api('GET', '/api/spaces' + (showAll.checked ? '?all=true' : ''));
    spaces = data.spaces.sort((a, b) =>
      (a.username || '').localeCompare(b.username || '') || a.name.localeCompare(b.name));
    hideError(pageError);
    render();
  } catch (err) {
    showError(pageError, err);
  }
}

function render() {
  const all = showAll.checked;
  for (const el of $$('th.owner-col')) el.hidden = !all;
  $('#empty').hidden = spaces.length > 0;
  table.hidden = spaces.length === 0;
  setRows(tbody, spaces, (s) => s.space_id, row, (s) => JSON.stringify([s, all, pending.has(s.space_id)]));
}

function row(s) {
  // A space whose location this server cannot reach now shows its last
  // reported state, marked unreachable, and offers no action that would
  // fail.
  const away = s.reachable === false;
  const busy = pending.has(s.space_id) || moving.has(s.state) || away;
  const button = (label, verb, cls) => h('button', {
    type: 'button', class: `small ${cls || ''}`, text: label, disabled: busy, dataset: { action: verb },
    'aria-label': rowLabel(label, s.name),
    title: away ? `Location ${s.location} cannot be reached: ${s.unreachable_reason}` : null,
    onclick: () => act(s, verb),
  });
  return h('tr', { dataset: { name: s.name, state: s.state, reachable: String(!away) } },
    h('td', {},
      h('div', { class: 'name' }, h('a', { href: `/spaces/${encodeURIComponent(s.space_id)}`, text: s.name })),
      s.description && h('div', { class: 'sub', text: s.description }),
      !away && s.state === 'running' && (s.http_ports || []).length > 0 && h('div', { class: 'sub web-ports' },
        ...s.http_ports.map((p) => h('a', {
          href: `/proxy/spaces/${encodeURIComponent(s.space_id)}/ports/${p.port}/`,
          target: '_blank', rel: 'noopener', text: `${p.name} (${p.port})`,
          title: `Open port ${p.port} of ${s.name} in a new tab`,
        })))),
    h('td', { class: 'owner-col', hidden: !showAll.checked, text: s.username || '' }),
    h('td', { text: s.template_name || '—' }),
    h('td', { text: s.location || '—' }),
    h('td', { class: 'state-cell' },
      away
        ? h('span', { class: 'badge state unreachable', text: 'unreachable', title: `Last reported ${s.state}` })
        : h('span', { class: `badge state state-${s.state}`, text: s.state }),
      away && h('div', { class: 'reason unreachable', text: `Last reported ${s.state}; ${s.unreachable_reason}.` }),
      s.update_available && h('span', {
        class: 'badge update', text: 'update available', title: 'The template changed since this space was deployed.',
      }),
      s.reason && h('div', { class: 'reason', text: s.reason })),
    h('td', { class: 'actions-col' },
      canStart.has(s.state) && button('Start', 'start', 'primary'),
      canStop.has(s.state) && button('Stop', 'stop'),
      button('Delete', 'delete', 'danger')));
}

async function act(s, verb) {
  if (verb === 'delete' && !await confirmAction(`Delete the space ${s.name}? Its runtime resources are removed too.`)) {
    return;
  }
  pending.add(s.space_id);
  render();
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

$('#new-space').addEventListener('click', async () => {
  try {
    templates = (await api('GET', '/api/templates')).templates.sort((a, b) => a.name.localeCompare(b.name));
  } catch (err) {
    announce('error', `Could not list the templates: ${err.message}`, () => $('#new-space'));
    return;
  }
  const select = editor.el('template_id');
  select.replaceChildren(...templates.map((t) =>
    h('option', { value: t.template_id, text: t.description ? `${t.name} — ${t.description}` : t.name })));
  $('#no-templates').hidden = templates.length > 0;
  editor.open('New space', {});
});

editor.onSave(async (e) => {
  const body = { name: e.text('name'), template_id: e.raw('template_id') };
  if (e.text('description')) body.description = e.text('description');
  if (e.text('location')) body.location = e.text('location');
  const created = await api('POST', '/api/spaces', body);
  const t = templates.find((x) => x.template_id === body.template_id);
  if (t && t.kind === 'manual' && created.agent_token) {
    secretNotice(notice, `Space ${body.name} created. Its agent needs this token, shown only now:`, created.agent_token);
  }
  await load();
});

load().then(ready);
poll(load, 3000);
