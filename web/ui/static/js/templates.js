// templates.js lists templates and, with Manage Templates, creates, changes
// and deletes them.
import './shell.js';
import { api, path } from './api.js';
import {
  $, h, PERM, perms, showError, hideError, confirmAction, setRows, Editor, checkboxes, checkedValues, byName, ready,
} from './dom.js';
import { runAction, rowLabel } from './feedback.js';
import { ListView } from './lists.js';

const manage = perms().has(PERM.ManageTemplates);
const table = $('#templates');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const editor = manage ? new Editor('#editor') : null;
let groups = [];

const specHints = {
  container: 'A container spec in YAML (image, environment, volumes, ports…), run by Docker or Podman. ${{ }} expressions are filled in per space.',
  nomad: 'A Nomad job in HCL. ${{ }} expressions are filled in per space.',
  manual: 'Not used: the user runs the agent on a machine of their own.',
};

const list = new ListView({
  path: '/api/templates',
  key: 'templates',
  table,
  search: $('#templates-search'),
  pager: $('#templates-pager'),
  render: (templates) => {
    $('#empty').hidden = list.total > 0 || list.q !== '';
    table.hidden = templates.length === 0;
    setRows(tbody, templates, (x) => x.template_id, row, (x) => JSON.stringify([x, groups]));
  },
  onError: (err) => showError(pageError, err),
});

async function load() {
  try {
    groups = (await api('GET', '/api/groups')).groups.sort(byName);
    await list.load();
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

function groupName(id) {
  const g = groups.find((x) => x.group_id === id);
  return g ? g.name : id;
}

function row(t) {
  return h('tr', { dataset: { name: t.name } },
    h('td', {},
      h('div', { class: 'name', text: t.name }),
      t.description && h('div', { class: 'sub', text: t.description })),
    h('td', {}, h('span', { class: 'badge muted', text: t.kind })),
    h('td', { class: 'num' }, String(t.usage), t.deployed > 0 && h('div', { class: 'sub', text: `${t.deployed} deployed` })),
    h('td', { class: 'nowrap' }, `${t.compute_units} compute`, h('div', { class: 'sub', text: `${t.storage_units} storage` })),
    h('td', {},
      h('div', { text: t.groups.length ? t.groups.map(groupName).join(', ') : 'everyone' }),
      h('div', { class: 'sub', text: t.locations.length ? `at ${t.locations.join(', ')}` : 'at every location' })),
    h('td', { class: 'actions-col' },
      manage && h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', t.name), onclick: () => edit(t) }),
      manage && h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', t.name), onclick: () => remove(t) })));
}

function showSpecHint() {
  $('#spec-hint').textContent = specHints[editor.raw('kind')] || '';
}

function openEditor(title, values, id) {
  checkboxes($('#template-groups'), 'groups', groups.map((g) => ({ value: g.group_id, label: g.name })), values.groups || []);
  editor.open(title, values, id);
  showSpecHint();
}

async function edit(t) {
  try {
    const d = await api('GET', path('templates', t.template_id));
    openEditor(`Edit template ${d.name}`, { ...d, locations: d.locations.join(', ') }, d.template_id);
  } catch (err) {
    showError(pageError, err);
  }
}

async function remove(t) {
  if (!await confirmAction(`Delete the template ${t.name}?`)) return;
  await runAction({
    tbody,
    key: t.template_id,
    verb: 'delete',
    fn: () => api('DELETE', path('templates', t.template_id)),
    refresh: load,
    failure: (err) => `Could not delete ${t.name}: ${err.message}`,
    success: `Template ${t.name} deleted.`,
  });
}

if (manage) {
  $('#new-template').hidden = false;
  $('#new-template').addEventListener('click', () =>
    openEditor('New template', { kind: 'container', compute_units: 0, storage_units: 0 }, null));
  editor.el('kind').addEventListener('change', showSpecHint);
  editor.onSave(async (e) => {
    const body = {
      name: e.text('name'),
      description: e.text('description'),
      kind: e.raw('kind'),
      spec: e.raw('spec'),
      volumes: e.raw('volumes'),
      compute_units: e.int('compute_units'),
      storage_units: e.int('storage_units'),
      locations: e.list('locations'),
      groups: checkedValues($('#template-groups')),
    };
    if (e.editing) await api('PUT', path('templates', e.editing), body);
    else await api('POST', '/api/templates', body);
    await load();
  });
}

load().then(ready);
