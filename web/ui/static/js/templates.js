// templates.js lists templates and, with Manage Templates, creates, changes
// and deletes them.
import './shell.js';
import { api, path } from './api.js';
import {
  $, h, PERM, perms, showError, hideError, confirmAction, setRows, Editor, checkboxes, checkedValues, byName, ready,
} from './dom.js';
import { runAction, rowLabel, clearFieldErrors } from './feedback.js';
import { ListView, Related, spacesSaid } from './lists.js';
import { CodeEditor } from './codeeditor.js';

const manage = perms().has(PERM.ManageTemplates);
const table = $('#templates');
const tbody = $('tbody', table);
const pageError = $('#page-error');
const editor = manage ? new Editor('#editor') : null;
let groups = [];
const groupsList = new Related('/api/groups');

function takeGroups() {
  groups = groupsList.data.groups.sort(byName);
}

// The spec and volumes are typed in code editors, checked by the server as
// they are typed (POST /api/templates/validate), with an error marked at
// its line.
const codeEditors = manage ? { spec: new CodeEditor(editor.el('spec')), volumes: new CodeEditor(editor.el('volumes')) } : null;
const languages = { container: ['yaml', 'yaml'], nomad: ['hcl', 'yaml'], manual: ['text', 'text'] };
let checkSeq = 0;
let checkTimer = null;
let pristine = ''; // the form as it was opened or saved
let asking = false;
let refusedByCheck = false; // the form says where the check refused a save

const specHints = {
  container: 'A container spec in YAML (image, environment, volumes, ports…), run by Docker or Podman. ${{ }} expressions are filled in per space.',
  nomad: 'A Nomad job in HCL. ${{ }} expressions are filled in per space.',
  manual: 'Not used: the user runs the agent on a machine of their own.',
};

// specExamples show in an empty spec: where to start.
const specExamples = {
  container: '# For example:\nimage: debian:bookworm\nenvironment:\n  - EDITOR=vim\nports:\n  - "8080:8080"',
  nomad: '# For example:\njob "${{ .space.name }}" {\n  group "dev" {\n    task "dev" {\n      driver = "docker"\n      config {\n        image = "debian:bookworm"\n      }\n    }\n  }\n}',
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
    await groupsList.fetch();
    takeGroups();
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
  const deployed = t.deployed > 0 && `${t.deployed} deployed`;
  const openTo = t.groups.length ? t.groups.map(groupName).join(', ') : 'everyone';
  const where = t.locations.length ? `at ${t.locations.join(', ')}` : 'at every location';
  return h('tr', { dataset: { name: t.name } },
    h('td', {},
      h('div', { class: 'name', text: t.name }),
      t.description && h('div', { class: 'sub', text: t.description }),
      // On a phone what the other columns say shows here, under the name,
      // where the row's buttons leave it room.
      h('div', { class: 'details-under' },
        h('div', {}, h('span', { class: 'badge muted', text: t.kind }), ' ', spacesSaid(t.usage, t.deployed)),
        h('div', { class: 'sub', text: `${t.compute_units} compute, ${t.storage_units} storage units` }),
        h('div', { class: 'sub', text: `Open to ${openTo} ${where}` }))),
    h('td', {}, h('span', { class: 'badge muted', text: t.kind })),
    h('td', { class: 'num' }, String(t.usage), deployed && h('div', { class: 'sub', text: deployed })),
    h('td', { class: 'nowrap' }, `${t.compute_units} compute`, h('div', { class: 'sub', text: `${t.storage_units} storage` })),
    h('td', {}, h('div', { text: openTo }), h('div', { class: 'sub', text: where })),
    h('td', { class: 'actions-col' },
      manage && h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', t.name), onclick: () => edit(t) }),
      manage && h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', t.name), onclick: () => remove(t) })));
}

function showSpecHint() {
  const kind = editor.raw('kind');
  $('#spec-hint').textContent = specHints[kind] || '';
  editor.el('spec').placeholder = specExamples[kind] || '';
  const [spec, volumes] = languages[kind] || ['text', 'text'];
  codeEditors.spec.setLanguage(spec);
  codeEditors.volumes.setLanguage(volumes);
}

// formState is what the form holds, to tell whether it changed.
function formState() {
  return JSON.stringify([...new FormData(editor.form)]);
}

function changed() {
  return formState() !== pristine;
}

function openEditor(title, values, id, spaces = null) {
  checkboxes($('#template-groups'), 'groups', groups.map((g) => ({ value: g.group_id, label: g.name })), values.groups || []);
  editor.open(title, values, id);
  for (const ce of Object.values(codeEditors)) ce.clear();
  $('#spec-check').textContent = '';
  showSpecHint();
  showSpaces(spaces);
  pristine = formState();
  if (id) check();
}

async function edit(t) {
  try {
    const d = await api('GET', path('templates', t.template_id));
    openEditor(`Edit template ${d.name}`, { ...d, locations: d.locations.join(', ') }, d.template_id, d);
  } catch (err) {
    showError(pageError, err);
  }
}

// showSpaces lists the spaces made from the template d (null: a new one)
// that the user may see, and says how many there are in all.
function showSpaces(d) {
  const section = $('#template-spaces');
  section.hidden = !d;
  if (!d) return;
  const seen = d.spaces || [];
  const unseen = d.usage - seen.length;
  const plural = (n) => (n === 1 ? '1 space' : `${n} spaces`);
  let text = d.usage === 0 ? 'None yet: it can be changed or deleted freely.'
    : `${plural(d.usage)}, ${d.deployed} deployed. Deployed spaces get a change when they restart.`;
  if (unseen > 0) text += ` ${plural(unseen)} of them belong to users whose spaces you may not see.`;
  $('#template-spaces-count').textContent = text;
  $('#template-spaces-list').replaceChildren(...seen.map((sp) => h('li', {},
    h('a', { href: `/spaces/${encodeURIComponent(sp.space_id)}`, text: sp.name }),
    ` of ${sp.username || sp.user_id} at ${sp.location}${sp.deployed ? ' (deployed)' : ''}`)));
}

// specBody is what the server checks of the form.
function specBody() {
  return { name: editor.text('name') || 'template', kind: editor.raw('kind'), spec: editor.raw('spec'), volumes: editor.raw('volumes') };
}

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, 400);
}

// check has the server check the spec and volumes and marks an error at
// its line; it resolves to the server's answer, or null when it could not
// ask (or a later check was asked for meanwhile).
async function check() {
  clearTimeout(checkTimer);
  const seq = ++checkSeq;
  const status = $('#spec-check');
  status.textContent = 'Checking…';
  let res;
  try {
    res = await api('POST', '/api/templates/validate', specBody());
  } catch (err) {
    if (seq === checkSeq) status.textContent = `The spec could not be checked: ${err.message}`;
    return null;
  }
  if (seq !== checkSeq) return null;
  // A newer answer replaces what the last one, or a save it refused, said.
  for (const ce of Object.values(codeEditors)) ce.clear();
  if (refusedByCheck) {
    hideError(editor.error);
    clearFieldErrors(editor.form);
  }
  refusedByCheck = false;
  status.classList.toggle('ce-ok', res.valid);
  if (res.valid) {
    status.textContent = editor.raw('kind') === 'manual' ? '' : 'Checked: the server finds no error.';
  } else if (res.field && codeEditors[res.field]) {
    status.textContent = '';
    codeEditors[res.field].mark(res.line || 1, res.column || 0, specMessage(res.error));
  } else {
    status.textContent = res.error;
  }
  return res;
}

// specMessage is the server's message without the template's name and
// the line, which the editor shows.
function specMessage(msg) {
  return msg.replace(/^template ".*?"( volumes)?:? /, '').replace(/^line \d+(, column \d+)?: /, '');
}

// closeEditor closes the dialog, after asking when the form has changes.
async function closeEditor() {
  if (asking) return;
  if (changed()) {
    asking = true;
    editor.dialog.dataset.asking = 'true';
    const discard = await confirmAction('Discard your changes to this template?', 'Discard changes');
    asking = false;
    delete editor.dialog.dataset.asking;
    if (!discard) {
      editor.el('spec').focus();
      return;
    }
  }
  pristine = formState();
  editor.dialog.close();
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
    openEditor('New template', { kind: 'container', compute_units: 0, storage_units: 0, with_terminal: true, with_ssh: true }, null));
  editor.el('kind').addEventListener('change', () => { showSpecHint(); scheduleCheck(); });
  for (const name of ['spec', 'volumes']) editor.el(name).addEventListener('input', scheduleCheck);
  // Escape, the Cancel button and leaving the page never drop changes
  // unasked. Escape is taken at keydown: a dialog's cancel event cannot
  // always be refused (a second Escape closes it in Chromium).
  editor.dialog.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    ev.preventDefault();
    closeEditor();
  });
  editor.dialog.addEventListener('cancel', (ev) => {
    ev.preventDefault();
    closeEditor();
  });
  editor.form.addEventListener('click', (ev) => {
    if (!ev.target.closest('button.cancel')) return;
    ev.stopPropagation(); // before the Editor's own, which closes at once
    closeEditor();
  }, true);
  editor.dialog.addEventListener('close', () => {
    if (changed()) editor.dialog.showModal(); // closed by other means: keep what was typed
  });
  window.addEventListener('beforeunload', (ev) => {
    if (editor.dialog.open && changed()) ev.preventDefault();
  });
  editor.onSave(async (e) => {
    const res = await check();
    if (res && !res.valid) {
      // The error is said once, where the check said it: under the
      // field, at its line; the form's error line only when it has no
      // field. The next check replaces it.
      if (res.field && codeEditors[res.field]) {
        const ce = codeEditors[res.field];
        ce.mark(res.line || 1, res.column || 0, specMessage(res.error), 'Not saved.');
        ce.goTo(res.line || 1, res.column || 1);
        throw Object.assign(new Error(res.error), { shown: true });
      }
      // Without a line, the form shows it at the field it names, or in
      // its error line; not also below the spec.
      refusedByCheck = true;
      $('#spec-check').textContent = '';
      throw new Error(res.error);
    }
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
      with_terminal: e.checked('with_terminal'),
      with_ssh: e.checked('with_ssh'),
    };
    if (e.editing) await api('PUT', path('templates', e.editing), body);
    else await api('POST', '/api/templates', body);
    pristine = formState();
    await load();
  });
}

load().then(ready);
list.autoRefresh({ related: [groupsList], apply: takeGroups, ok: () => hideError(pageError) });
