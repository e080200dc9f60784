// groups.js lists groups and creates, changes and deletes them (Manage Groups).
import './shell.js';
import { api, path } from './api.js';
import { $, h, showError, hideError, confirmAction, setRows, Editor, ready } from './dom.js';
import { runAction, rowLabel } from './feedback.js';
import { ListView } from './lists.js';

const table = $('#groups');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const editor = new Editor('#editor');
const quotas = ['max_spaces', 'compute_units', 'storage_units'];

const list = new ListView({
  path: '/api/groups',
  key: 'groups',
  table,
  search: $('#groups-search'),
  pager: $('#groups-pager'),
  render: (groups) => {
    $('#empty').hidden = list.total > 0 || list.q !== '';
    table.hidden = groups.length === 0;
    setRows(tbody, groups, (g) => g.group_id, row);
  },
  onError: (err) => showError(pageError, err),
});

async function load() {
  try {
    await list.load();
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

function row(g) {
  return h('tr', { dataset: { name: g.name } },
    h('td', { class: 'name', text: g.name }),
    ...quotas.map((q) => h('td', { class: 'num', text: String(g[q]) })),
    h('td', { class: 'actions-col' },
      h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', g.name), onclick: () => editor.open(`Edit group ${g.name}`, g, g.group_id) }),
      h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', g.name), onclick: () => remove(g) })));
}

async function remove(g) {
  if (!await confirmAction(`Delete the group ${g.name}?`)) return;
  await runAction({
    tbody,
    key: g.group_id,
    verb: 'delete',
    fn: () => api('DELETE', path('groups', g.group_id)),
    refresh: load,
    failure: (err) => `Could not delete ${g.name}: ${err.message}`,
    success: `Group ${g.name} deleted.`,
  });
}

$('#new-group').addEventListener('click', () =>
  editor.open('New group', { max_spaces: 0, compute_units: 0, storage_units: 0 }, null));

editor.onSave(async (e) => {
  const body = { name: e.text('name') };
  for (const q of quotas) body[q] = e.int(q);
  if (e.editing) await api('PUT', path('groups', e.editing), body);
  else await api('POST', '/api/groups', body);
  await load();
});

load().then(ready);
list.autoRefresh({ ok: () => hideError(pageError) });
