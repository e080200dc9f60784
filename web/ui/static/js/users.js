// users.js lists users and creates, changes and deletes them (Manage Users).
import './shell.js';
import { api, path } from './api.js';
import {
  $, h, showError, hideError, confirmAction, setRows, Editor, checkboxes, checkedValues, byName, ready,
} from './dom.js';
import { runAction, rowLabel } from './feedback.js';
import { ListView, Related, countOf, spacesSaid } from './lists.js';

const tbody = $('#users tbody');
const pageError = $('#page-error');
const editor = new Editor('#editor');
const userRole = '00000000-0000-0000-0000-000000000001';
const rolesList = new Related('/api/roles');
const groupsList = new Related('/api/groups');
let roles = [];
let groups = [];
let usingTOTP = false; // whether logins here need a two-factor code

// takeNames takes in the roles and groups whose names the rows show.
function takeNames() {
  roles = rolesList.data.roles;
  groups = groupsList.data.groups.sort(byName);
}

// The users come a page at a time, searched and sorted on the server;
// the roles and groups they name come whole.
const list = new ListView({
  path: '/api/users',
  key: 'users',
  table: $('#users'),
  search: $('#users-search'),
  pager: $('#users-pager'),
  render: (users) => {
    // How many users there are, or match the search, in all pages.
    $('#users-summary').textContent = list.total ? countOf(list.total, 'user', 'users', list.q !== '') : '';
    setRows(tbody, users, (x) => x.user_id, row, (x) => JSON.stringify([x, roles, groups, usingTOTP]));
  },
  onError: (err) => showError(pageError, err),
});

async function load() {
  try {
    const [totp] = await Promise.all([api('GET', '/api/auth/using-totp'), rolesList.fetch(), groupsList.fetch()]);
    usingTOTP = totp.using_totp;
    takeNames();
    await list.load();
    hideError(pageError);
  } catch (err) {
    showError(pageError, err);
  }
}

const nameOf = (list, key) => (id) => {
  const x = list.find((y) => y[key] === id);
  return x ? x.name : id;
};

// breakable returns an email with the places a line may break in it
// marked: after its @ and before its dots.
function breakable(email) {
  return email.split(/(?<=@)|(?=\.)/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

function row(u) {
  const roleNames = u.roles.map(nameOf(roles, 'role_id')).join(', ');
  const groupNames = u.groups.map(nameOf(groups, 'group_id')).join(', ');
  const state = () => h('span', { class: `badge ${u.active ? 'state-running' : 'state-stopped'}`, text: u.active ? 'active' : 'inactive' });
  return h('tr', { dataset: { name: u.username } },
    h('td', {}, h('span', { class: 'name', text: u.username }), ' ', u.current && h('span', { class: 'badge muted', text: 'you' }),
      // On a phone what the other columns say shows here, under the name,
      // where the row's buttons leave it room.
      h('div', { class: 'details-under' },
        h('div', { class: 'email' }, breakable(u.email)),
        h('div', {}, state(), ' ', spacesSaid(u.number_spaces, u.number_spaces_deployed)),
        h('div', { class: 'sub', text: `Roles: ${roleNames || 'none'}` }),
        h('div', { class: 'sub', text: `Groups: ${groupNames || 'none'}` }))),
    h('td', { text: u.email }),
    h('td', { text: roleNames || '—' }),
    h('td', { text: groupNames || '—' }),
    h('td', { class: 'num' }, String(u.number_spaces), u.number_spaces_deployed > 0 && h('div', { class: 'sub', text: `${u.number_spaces_deployed} deployed` })),
    h('td', {}, state()),
    h('td', { class: 'actions-col' },
      h('button', { type: 'button', class: 'small', text: 'Edit', dataset: { action: 'edit' }, 'aria-label': rowLabel('Edit', u.username), onclick: () => edit(u) }),
      usingTOTP && u.two_factor && h('button', { type: 'button', class: 'small', text: 'Reset two-factor', dataset: { action: 'reset-totp' }, 'aria-label': rowLabel('Reset two-factor', u.username), onclick: () => resetTOTP(u) }),
      !u.current && h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', u.username), onclick: () => remove(u) })));
}

// self is the user being edited when that is the one logged in.
let self = null;

function openEditor(title, values, id) {
  self = values.current ? values : null;
  $('#current-password').hidden = self === null;
  checkboxes($('#user-roles'), 'roles', roles.map((r) => ({ value: r.role_id, label: r.name })), values.roles);
  checkboxes($('#user-groups'), 'groups', groups.map((g) => ({ value: g.group_id, label: g.name })), values.groups);
  editor.open(title, values, id);
  editor.el('username').readOnly = id !== null;
  $('#password-hint').hidden = id === null;
}

function edit(u) {
  openEditor(`Edit user ${u.username}`, { ...u, password: '', current_password: '' }, u.user_id);
}

async function remove(u) {
  if (!await confirmAction(`Delete the user ${u.username}? Their spaces and API tokens are deleted too.`)) return;
  await runAction({
    tbody,
    key: u.user_id,
    verb: 'delete',
    fn: () => api('DELETE', path('users', u.user_id)),
    refresh: load,
    failure: (err) => `Could not delete ${u.username}: ${err.message}`,
    success: `User ${u.username} deleted.`,
  });
}

// resetTOTP makes u set up two-factor login again at their next login,
// as for a lost phone.
async function resetTOTP(u) {
  if (!await confirmAction(`Reset the two-factor login of ${u.username}? Their authenticator app stops working here, and their next login shows a new QR code to scan.`, 'Reset')) return;
  await runAction({
    tbody,
    key: u.user_id,
    verb: 'reset-totp',
    fn: () => api('DELETE', path('users', u.user_id, 'totp')),
    refresh: load,
    failure: (err) => `Could not reset the two-factor login of ${u.username}: ${err.message}`,
    success: `Two-factor login of ${u.username} reset: they set up a new authenticator at their next login.`,
  });
}

$('#new-user').addEventListener('click', () =>
  openEditor('New user', {
    roles: [userRole], groups: [], active: true, max_spaces: 0, compute_units: 0, storage_units: 0,
  }, null));

editor.onSave(async (e) => {
  const body = {
    email: e.text('email'),
    roles: checkedValues($('#user-roles')),
    groups: checkedValues($('#user-groups')),
    active: e.checked('active'),
    max_spaces: e.int('max_spaces'),
    compute_units: e.int('compute_units'),
    storage_units: e.int('storage_units'),
  };
  const password = e.raw('password');
  if (e.editing) {
    if (password !== '') body.password = password;
    if (self && (password !== '' || body.email !== self.email)) body.current_password = e.raw('current_password');
    await api('PUT', path('users', e.editing), body);
  } else {
    body.username = e.text('username');
    body.password = password;
    await api('POST', '/api/users', body);
  }
  await load();
});

load().then(ready);
list.autoRefresh({ related: [rolesList, groupsList], apply: takeNames, ok: () => hideError(pageError) });
