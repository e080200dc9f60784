// account.js is the account page: the user's own profile, email and
// password, SSH keys, quota, two-factor login, API tokens (tokenlist.js) and
// login sessions. Every form keeps what was typed and shows a refusal next
// to the field it concerns.
import './shell.js';
import { api, path } from './api.js';
import {
  $, h, showError, hideError, confirmAction, setRows, fmtTime, timeEl, ago, ready, showQR, showTOTPSecret, setTimeZone,
} from './dom.js';
import { announce, runAction, rowLabel, showFormError, clearFieldErrors } from './feedback.js';
import { mountTokens } from './tokenlist.js';

let me = null; // the user, as whoami answered
let reloadTokens = async () => {}; // shows the API tokens again

const field = (form, name) => form.elements.namedItem(name);

// onSubmit runs fn(form) when form is submitted: a thrown error shows in
// the form, next to its field; success announces done.
function onSubmit(form, done, fn) {
  const summary = $('.error', form);
  const button = $('button[type="submit"]', form);
  // A field's error goes once the field is changed; the summary stays.
  form.addEventListener('input', (ev) => {
    if (ev.target.getAttribute('aria-invalid') === 'true') clearFieldErrors(form);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    hideError(summary);
    clearFieldErrors(form);
    button.disabled = true;
    try {
      if (await fn(form) !== false) announce('success', done, () => button);
    } catch (err) {
      showFormError(form, summary, err);
    } finally {
      button.disabled = false;
    }
  });
}

// update changes the user's own record.
function update(body) {
  return api('PUT', path('users', me.user_id), body);
}

async function loadMe() {
  me = await api('GET', '/api/users/whoami');
  $('#account-who').textContent = `${me.username} · ${me.email}`;
  const profile = $('#profile-form');
  field(profile, 'preferred_shell').value = me.preferred_shell || '';
  field(profile, 'timezone').value = me.timezone || '';
  field($('#password-form'), 'email').value = me.email;
}

onSubmit($('#profile-form'), 'Profile saved.', async (form) => {
  const body = { preferred_shell: field(form, 'preferred_shell').value, timezone: field(form, 'timezone').value.trim() };
  await update(body);
  Object.assign(me, body);
  // The page's times show in the new zone at once.
  setTimeZone(body.timezone);
  await Promise.all([loadSessions(), loadKeys(), reloadTokens()]);
});

onSubmit($('#password-form'), null, async (form) => {
  const email = field(form, 'email').value.trim();
  const pw = field(form, 'new_password').value;
  const body = { current_password: field(form, 'current_password').value };
  if (email !== me.email) body.email = email;
  if (pw !== '' || field(form, 'new_password2').value !== '') {
    if (pw !== field(form, 'new_password2').value) throw new Error('new_password2 must be the same as the new password above');
    body.password = pw;
    body.keep_tokens = tokenCount > 0 && form.elements.namedItem('tokens_on_change').value === 'keep';
  }
  const deletes = body.password !== undefined && !body.keep_tokens ? tokenCount : 0;
  if (body.email === undefined && body.password === undefined) {
    throw new Error('Nothing to save: change your email or type a new password.');
  }
  try {
    await update(body);
  } catch (err) {
    // The API names the new password "password"; the form calls it new_password.
    err.message = err.message.replace(/^password\b/, 'new_password');
    throw err;
  }
  if (body.email) me.email = email;
  $('#account-who').textContent = `${me.username} · ${me.email}`;
  for (const name of ['current_password', 'new_password', 'new_password2']) field(form, name).value = '';
  const kept = body.keep_tokens ? tokenCount : 0;
  if (body.password !== undefined) await Promise.all([loadSessions(), reloadTokens()]);
  showSaved(form, [
    body.email && `Your email is now ${email}.`,
    body.password !== undefined && 'Your password is changed; your other sessions are logged out.',
    tokensSaid(deletes, 'deleted'), tokensSaid(kept, 'kept'),
  ].filter(Boolean).join(' '));
  return false;
});

// tokensSaid says what a password change did to n API tokens.
function tokensSaid(n, done) {
  return { 0: '', 1: `Your API token is ${done}.` }[n] ?? `Your ${n} API tokens are ${done}.`;
}

// showSaved says text next to the button of the password form, in view,
// until the form is changed again: the page's messages are at its top,
// out of sight of someone at the form.
function showSaved(form, text) {
  const saved = $('#password-saved', form);
  saved.textContent = text;
  saved.hidden = false;
  saved.scrollIntoView({ block: 'nearest' });
}
$('#password-form').addEventListener('input', () => { $('#password-saved').hidden = true; });
$('#password-form').addEventListener('submit', () => { $('#password-saved').hidden = true; });

// The SSH keys: those of the user's key list, and the lines of the older
// single ssh_public_key field of the profile, which spaces accept as well;
// the server reads both (/ssh-keys). A key is added to the list; removing
// an older field's key takes its line out of the field.

const sshBody = $('#ssh-keys tbody');

// keyTypes names the types of SSH keys in words.
const keyTypes = {
  'ssh-ed25519': 'Ed25519', 'ssh-rsa': 'RSA', 'ssh-dss': 'DSA',
  'ecdsa-sha2-nistp256': 'ECDSA P-256', 'ecdsa-sha2-nistp384': 'ECDSA P-384', 'ecdsa-sha2-nistp521': 'ECDSA P-521',
  'sk-ssh-ed25519@openssh.com': 'Ed25519 security key', 'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA security key',
};

function keyType(t) {
  return t ? keyTypes[t] || t : '—';
}

// legacyKey returns a line of the older field as a row of the list.
function legacyKey(l) {
  return {
    key_id: `legacy:${l.line}:${l.text}`, legacy: l.text, name: l.comment || (l.error ? `Line ${l.line}` : ''),
    type: l.type, fingerprint: l.fingerprint || '', error: l.error,
  };
}

function keyName(k) {
  return k.name || k.fingerprint || keyType(k.type);
}

async function loadKeys() {
  try {
    const got = await api('GET', path('users', me.user_id, 'ssh-keys'));
    const legacy = (got.legacy_keys || []).map(legacyKey);
    const keys = [...got.keys.map((k) => ({ ...k, type: k.key.split(' ')[0] })), ...legacy];
    setRows(sshBody, keys, (k) => k.key_id, keyRow);
    $('#ssh-keys').hidden = keys.length === 0;
    $('#ssh-empty').hidden = keys.length > 0;
    $('#ssh-legacy-hint').hidden = legacy.length === 0;
    hideError($('#ssh-error'));
  } catch (err) {
    showError($('#ssh-error'), err);
  }
}

function keyRow(k) {
  const name = keyName(k);
  return h('tr', { dataset: { name, fingerprint: k.fingerprint, legacy: String(Boolean(k.legacy)) } },
    h('td', {}, h('span', { class: 'name', text: name }),
      k.legacy && h('span', { class: 'badge', text: 'older field', title: 'In the ssh_public_key field of your profile' })),
    h('td', { class: 'nowrap', text: keyType(k.type) }),
    k.error ? h('td', { class: 'key-error', text: k.error }) : h('td', { class: 'fingerprint', text: k.fingerprint }),
    h('td', { class: 'nowrap' }, timeEl(k.added_at)),
    h('td', { class: 'actions-col' }, h('button', {
      type: 'button', class: 'small danger', text: 'Remove', dataset: { action: 'remove' },
      'aria-label': rowLabel('Remove', name), onclick: () => removeKey(k, name),
    })));
}

async function removeKey(k, name) {
  const which = k.fingerprint && k.fingerprint !== name ? `${name} (${k.fingerprint})` : name;
  if (!await confirmAction(`Remove the SSH key ${which}? Your spaces stop accepting it for SSH.`, 'Remove')) return;
  await runAction({
    tbody: sshBody,
    key: k.key_id,
    verb: 'remove',
    fn: () => (k.legacy ? removeLegacyKey(k.legacy) : api('DELETE', path('users', me.user_id, 'ssh-keys', k.key_id))),
    refresh: loadKeys,
    failure: (err) => `Could not remove the SSH key ${name}: ${err.message}`,
    success: `The SSH key ${name} is removed.`,
  });
}

// removeLegacyKey takes line out of the older ssh_public_key field.
async function removeLegacyKey(line) {
  const rest = (me.ssh_public_key || '').split('\n').filter((l) => l.trim() !== line).join('\n').trim();
  await update({ ssh_public_key: rest });
  me.ssh_public_key = rest;
}

onSubmit($('#ssh-form'), 'SSH key added.', async (form) => {
  const added = await api('POST', path('users', me.user_id, 'ssh-keys'), {
    key: field(form, 'key').value.trim(),
    name: field(form, 'name').value.trim(),
  });
  for (const name of ['key', 'name']) field(form, name).value = '';
  await loadKeys();
  announce('success', `SSH key ${keyName(added)} added.`, () => $('button[type="submit"]', form));
  return false;
});

// showTokenCount shows the choice of what a new password does to the
// user's API tokens while they have some: deleting them unless they choose
// to keep them.
let tokenCount = 0;

function showTokenCount(n) {
  tokenCount = n;
  $('#tokens-choice').hidden = n === 0;
  $('#tokens-choice-title').textContent = n === 1 ? 'Your API token, when the password changes'
    : `Your ${n} API tokens, when the password changes`;
  for (const el of document.querySelectorAll('#tokens-choice .them')) el.textContent = n === 1 ? 'it' : 'them';
}

// limit shows what is used of a limit (0: none).
function limit(used, max) {
  return max > 0 ? `${used} of ${max}` : `${used} (no limit)`;
}

async function loadQuota() {
  const box = $('#quota');
  try {
    const q = await api('GET', path('users', me.user_id, 'quota'));
    const rows = [
      ['Spaces', limit(q.number_spaces, q.max_spaces)],
      ['Running spaces', String(q.number_spaces_deployed)],
      ['Compute units', limit(q.used_compute_units, q.compute_units)],
      ['Storage units', limit(q.used_storage_units, q.storage_units)],
    ];
    box.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v, dataset: { quota: k } })]));
    box.hidden = false;
    hideError($('#quota-error'));
  } catch (err) {
    showError($('#quota-error'), err);
  }
  $('#quota-loading').hidden = true;
}

async function loadTOTP() {
  const el = $('#totp-state');
  try {
    const r = await api('GET', '/api/auth/using-totp');
    el.textContent = r.using_totp
      ? 'On. You log in with your password and the 6-digit code of your authenticator app. If you lose it, an administrator resets it (on the Users page), and your next login shows a new QR code to scan.'
      : 'Off on this server: you log in with your password alone.';
    $('#totp-form').hidden = !r.using_totp;
  } catch (err) {
    el.textContent = `Unknown: ${err.message}`;
  }
}

// The change of authenticator: a new secret for the password and a code
// of the current app, then a code of the new app makes it yours. The
// secret is only ever in this page's memory and DOM, never in a URL.
onSubmit($('#totp-form'), 'Scan the new QR code, then confirm with a code of the new app.', async (form) => {
  const got = await api('POST', '/api/auth/totp/change', {
    current_password: field(form, 'current_password').value,
    totp_code: field(form, 'totp_code').value.trim(),
  });
  for (const name of ['current_password', 'totp_code']) field(form, name).value = '';
  const confirm = $('#totp-confirm-form');
  showQR($('#totp-new-qr'), got.totp_qr);
  showTOTPSecret($('#totp-new-secret'), got.totp_secret);
  $('#totp-expires').textContent = `Confirm by ${fmtTime(got.expires_at)}; after that this secret is forgotten and nothing changes.`;
  form.hidden = true;
  confirm.hidden = false;
  field(confirm, 'totp_code').focus();
});

// closeTOTPChange forgets the new secret shown and goes back to the start.
function closeTOTPChange() {
  const confirm = $('#totp-confirm-form');
  confirm.hidden = true;
  field(confirm, 'totp_code').value = '';
  $('#totp-new-qr').removeAttribute('src');
  $('#totp-new-secret').textContent = '';
  hideError($('.error', confirm));
  clearFieldErrors(confirm);
  $('#totp-form').hidden = false;
}

onSubmit($('#totp-confirm-form'), 'Your new authenticator is in use: the old one no longer logs you in.', async (form) => {
  await api('POST', '/api/auth/totp/confirm', { totp_code: field(form, 'totp_code').value.trim() });
  closeTOTPChange();
  $('button[type="submit"]', $('#totp-form')).focus();
});

$('#totp-cancel').addEventListener('click', () => {
  closeTOTPChange();
  field($('#totp-form'), 'current_password').focus();
});

// sessionOf says what opened a session, by its user agent: a browser
// ("Chrome on Linux"), the knot command line, or a leaf, which logs in here
// with the password of each login at it ("knot/VERSION leaf/LOCATION").
function sessionOf(ua) {
  const knot = /^knot\/(\S+)(?: leaf\/(\S+))?$/.exec(ua || '');
  if (knot && knot[2]) return `Your login at the leaf ${knot[2]}`;
  if (knot) return `The knot command line (knot ${knot[1]})`;
  if (!ua) return 'A program that sends no name';
  const name = [['Edg/', 'Edge'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'], ['Safari/', 'Safari'], ['curl/', 'curl']]
    .find(([k]) => ua.includes(k));
  const os = [['Android', 'Android'], ['iPhone', 'iPhone'], ['Windows', 'Windows'], ['Mac OS', 'macOS'], ['Linux', 'Linux']]
    .find(([k]) => ua.includes(k));
  if (!name) return `A program: ${ua.slice(0, 60)}`;
  return os ? `${name[1]} on ${os[1]}` : name[1];
}

// lastUsed says when a session was last used: the server notes it to
// within a minute.
function lastUsed(t) {
  return Date.now() - new Date(t).getTime() < 90 * 1000 ? 'in the last minute' : ago(t);
}

const sessionsBody = $('#sessions tbody');

async function loadSessions() {
  try {
    const sessions = await api('GET', '/api/sessions');
    setRows(sessionsBody, sessions, (s) => s.session_id, sessionRow);
    hideError($('#sessions-error'));
  } catch (err) {
    showError($('#sessions-error'), err);
  }
}

function sessionRow(s) {
  const name = sessionOf(s.user_agent);
  const label = `${name} from ${s.ip || 'an unknown address'}, logged in ${fmtTime(s.created_at)}`;
  return h('tr', { dataset: { current: String(s.current) } },
    h('td', {}, h('span', { class: 'name', text: name, title: s.user_agent || null }),
      s.current && h('span', { class: 'badge state-running', text: 'this session' })),
    h('td', { class: 'nowrap', text: s.ip || '—' }),
    h('td', { class: 'nowrap' }, timeEl(s.created_at)),
    h('td', { class: 'nowrap' }, timeEl(s.last_used_at, lastUsed(s.last_used_at))),
    h('td', { class: 'actions-col' }, !s.current && h('button', {
      type: 'button', class: 'small danger', text: 'Revoke', dataset: { action: 'revoke' },
      'aria-label': rowLabel('Revoke', label), onclick: () => revoke(s, name),
    })));
}

async function revoke(s, name) {
  if (!await confirmAction(`Log out the session “${name}” from ${s.ip || 'an unknown address'}, logged in ${fmtTime(s.created_at)}?`, 'Revoke')) return;
  await runAction({
    tbody: sessionsBody,
    key: s.session_id,
    verb: 'revoke',
    fn: () => api('DELETE', path('sessions', s.session_id)),
    refresh: loadSessions,
    failure: (err) => `Could not revoke the session “${name}”: ${err.message}`,
    success: `The session “${name}” is logged out.`,
  });
}

function fillTimezones() {
  if (typeof Intl.supportedValuesOf !== 'function') return;
  $('#timezones').replaceChildren(...Intl.supportedValuesOf('timeZone').map((z) => h('option', { value: z })));
}

async function start() {
  fillTimezones();
  try {
    await loadMe();
  } catch (err) {
    showError($('#page-error'), err);
    return;
  }
  const tokens = mountTokens('#tokens-error', showTokenCount).then((reload) => { reloadTokens = reload; });
  await Promise.all([loadQuota(), loadTOTP(), loadSessions(), loadKeys(), tokens]);
}

start().then(ready);
