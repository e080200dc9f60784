// roles.js lists roles and creates, changes and deletes those that are not
// built in (Manage Roles).
import './shell.js';
import { api, path } from './api.js';
import { $, h, showError, hideError, confirmAction, setRows, Editor, checkboxes, checkedValues, ready } from './dom.js';
import { runAction, rowLabel } from './feedback.js';
import { ListView } from './lists.js';

const tbody = $('#roles tbody');
const pageError = $('#page-error');
const editor = new Editor('#editor');
let permissions = [];

// The roles come in their own order (the built-in ones first) unless a
// header sorts them.
const list = new ListView({
  path: '/api/roles',
  key: 'roles',
  sort: '',
  table: $('#roles'),
  search: $('#roles-search'),
  pager: $('#roles-pager'),
  render: (roles) => setRows(tbody, roles, (x) => x.role_id, row, (x) => JSON.stringify([x, permissions])),
  onError: (err) => showError(pageError, err),
});

async function load() {
  try {
    permissions = (await api('GET', '/api/permissions')).permissions;
    await list.load();
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

function permName(id) {
  const p = permissions.find((x) => x.id === id);
  return p ? p.name : `#${id}`;
}

function row(r) {
  const all = r.permissions.length === permissions.length && permissions.length > 0;
  return h('tr', { dataset: { name: r.name } },
    h('td', {}, h('span', { class: 'name', text: r.name }), ' ', r.builtin && h('span', { class: 'badge muted', text: 'built in' })),
    h('td', { text: all ? 'every permission' : (r.permissions.map(permName).join(', ') || 'none') }),
    h('td', { class: 'actions-col' },
      !r.builtin && h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', r.name), onclick: () => openEditor(`Edit role ${r.name}`, r, r.role_id) }),
      !r.builtin && h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', r.name), onclick: () => remove(r) })));
}

function openEditor(title, r, id) {
  checkboxes($('#role-permissions'), 'permissions',
    permissions.map((p) => ({ value: String(p.id), label: p.name })), (r.permissions || []).map(String));
  editor.open(title, { name: r.name || '' }, id);
}

async function remove(r) {
  if (!await confirmAction(`Delete the role ${r.name}?`)) return;
  await runAction({
    tbody,
    key: r.role_id,
    verb: 'delete',
    fn: () => api('DELETE', path('roles', r.role_id)),
    refresh: load,
    failure: (err) => `Could not delete ${r.name}: ${err.message}`,
    success: `Role ${r.name} deleted.`,
  });
}

$('#new-role').addEventListener('click', () => openEditor('New role', {}, null));

editor.onSave(async (e) => {
  const body = { name: e.text('name'), permissions: checkedValues($('#role-permissions')).map(Number) };
  if (e.editing) await api('PUT', path('roles', e.editing), body);
  else await api('POST', '/api/roles', body);
  await load();
});

load().then(ready);
list.autoRefresh({ ok: () => hideError(pageError) });
