// variables.js lists template variables and creates, changes and deletes
// them (Manage Variables). A protected value is write-only: it is sent, never
// shown.
import './shell.js';
import { api, path } from './api.js';
import { $, h, showError, hideError, confirmAction, setRows, Editor, timeEl, ready } from './dom.js';
import { runAction, rowLabel, rowButton, announce } from './feedback.js';
import { ListView } from './lists.js';

const table = $('#variables');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const editor = new Editor('#editor');
let editingProtected = false;

const list = new ListView({
  path: '/api/templatevars',
  key: 'variables',
  table,
  search: $('#variables-search'),
  pager: $('#variables-pager'),
  render: (vars) => {
    $('#empty').hidden = list.total > 0 || list.q !== '';
    table.hidden = vars.length === 0;
    setRows(tbody, vars, (v) => v.templatevar_id, row);
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

function row(v) {
  return h('tr', { dataset: { name: v.name, local: String(Boolean(v.local)) } },
    h('td', {}, h('code', { class: 'name', text: v.name })),
    h('td', { text: v.location || 'every location' }),
    h('td', {},
      v.protected && h('span', { class: 'badge update', text: 'protected' }),
      v.restricted && h('span', { class: 'badge muted', text: 'restricted' }),
      v.local && h('span', { class: 'badge muted', text: 'local' })),
    h('td', { class: 'nowrap' }, timeEl(v.updated_at)),
    h('td', { class: 'actions-col' },
      h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', v.name), onclick: () => edit(v) }),
      h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', v.name), onclick: () => remove(v) })));
}

function openEditor(title, v, id) {
  editingProtected = Boolean(id && v.protected);
  editor.open(title, { ...v, value: v.protected ? '' : (v.value || '') }, id);
  $('#value-hint').hidden = !editingProtected;
  editor.el('value').placeholder = editingProtected ? 'unchanged' : '';
}

async function edit(v) {
  try {
    openEditor(`Edit variable ${v.name}`, await api('GET', path('templatevars', v.templatevar_id)), v.templatevar_id);
  } catch (err) {
    announce('error', `Could not open ${v.name}: ${err.message}`, () => rowButton(tbody, v.templatevar_id, 'edit'));
  }
}

async function remove(v) {
  if (!await confirmAction(`Delete the variable ${v.name}?`)) return;
  await runAction({
    tbody,
    key: v.templatevar_id,
    verb: 'delete',
    fn: () => api('DELETE', path('templatevars', v.templatevar_id)),
    refresh: load,
    failure: (err) => `Could not delete ${v.name}: ${err.message}`,
    success: `Variable ${v.name} deleted.`,
  });
}

$('#new-variable').addEventListener('click', () => openEditor('New variable', {}, null));

editor.onSave(async (e) => {
  const body = {
    name: e.text('name'),
    location: e.text('location'),
    protected: e.checked('protected'),
    restricted: e.checked('restricted'),
  };
  if (e.el('local')) body.local = e.checked('local');
  const value = e.raw('value');
  // An empty value keeps a protected variable's value.
  if (!(editingProtected && value === '')) body.value = value;
  if (e.editing) await api('PUT', path('templatevars', e.editing), body);
  else await api('POST', '/api/templatevars', body);
  await load();
});

load().then(ready);
list.autoRefresh({ ok: () => hideError(pageError) });
