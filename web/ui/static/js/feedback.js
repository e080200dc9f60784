// feedback.js shows what came of what the user did, and keeps it shown.
//
// The outcome of an action (Start, Stop, Delete…) goes to the page's alert
// region, #alerts, which no list refresh touches: an error stays until the
// user dismisses it, a success clears itself after a while. Afterwards the
// focus goes back to the button that started the action, found again by
// its row (a refresh may have rebuilt the row), or else to the message.
//
// A refused form shows the server's message next to the field it names
// (the API names fields as in its JSON, "compute_units must be…"; the
// form shows the words of the field's label, "Compute units must be…"),
// and keeps what was typed.

const successMs = 6000;

function region() {
  return document.getElementById('alerts');
}

// dismiss removes the message el and puts the focus back to where the
// action started, or on the main content.
function dismiss(el, back) {
  el.remove();
  const target = back && back();
  if (target) target.focus();
  else document.getElementById('main')?.focus();
}

// announce shows text in the alert region: kind 'error' stays until
// dismissed, 'success' clears itself. back, when given, returns the
// element to focus once the message goes. It returns the message.
export function announce(kind, text, back = null) {
  const box = region();
  const el = document.createElement('div');
  el.className = `alert alert-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.tabIndex = -1;
  const p = document.createElement('p');
  p.textContent = text;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'small quiet dismiss';
  close.textContent = 'Dismiss';
  close.setAttribute('aria-label', kind === 'error' ? `Dismiss the error: ${text}` : `Dismiss: ${text}`);
  close.addEventListener('click', () => dismiss(el, back));
  el.append(p, close);
  if (kind === 'error') box.prepend(el);
  else box.append(el);
  if (kind !== 'error') {
    setTimeout(() => {
      if (!el.isConnected) return;
      const hadFocus = el.contains(document.activeElement);
      el.remove();
      if (hadFocus) (back && back())?.focus();
    }, successMs);
  }
  return el;
}

// rowButton finds again the button of the action verb in the row key of
// tbody, or any button of that row, or null.
export function rowButton(tbody, key, verb) {
  const row = [...tbody.rows].find((r) => r.dataset.key === String(key));
  if (!row) return null;
  const own = row.querySelector(`button[data-action="${verb}"]:not(:disabled)`);
  return own || row.querySelector('button:not(:disabled)');
}

// runAction runs fn, the action verb on the row key of tbody, then
// refresh. On failure the message failure(err) stays shown; on success the
// message success, if any, shows for a while. The focus goes back to the
// row's button, or to the message when the row has none left.
export async function runAction({ tbody, key, verb, fn, refresh, failure, success }) {
  const back = () => rowButton(tbody, key, verb);
  let shown = null;
  try {
    await fn();
    if (success) shown = announce('success', success, back);
  } catch (err) {
    shown = announce('error', failure(err), back);
  }
  if (refresh) await refresh();
  const target = back();
  if (target && !(shown && shown.getAttribute('role') === 'alert')) target.focus();
  else if (shown) shown.focus();
}

// rowLabel is the accessible name of a row's button: "Stop dev".
export function rowLabel(label, name) {
  return `${label} ${name}`;
}

// fieldLabel is the words a person reads for the field el: its data-label,
// or the text of its label without the field's own.
function fieldLabel(el) {
  if (el.dataset.label) return el.dataset.label;
  const group = checkboxGroup(el);
  if (group) return group.querySelector('legend')?.textContent.trim() || el.name;
  const label = el.closest('label');
  if (!label) return el.name;
  const text = [...label.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent).join(' ').trim();
  return text || el.name;
}

// checkboxGroup returns the fieldset of el when el is one of several
// checkboxes of the same name in it (the roles of a user), or null.
function checkboxGroup(el) {
  const set = el.type === 'checkbox' && el.closest('fieldset');
  if (!set) return null;
  return set.querySelectorAll(`input[type="checkbox"][name="${el.name}"]`).length > 1 ? set : null;
}

function fields(form) {
  return [...form.elements].filter((el) => el.name && el.type !== 'hidden' && el.type !== 'submit' && el.type !== 'button');
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// humanize replaces the API's field names in message by the words of the
// form's labels; a message that starts with one gets a capital.
export function humanize(form, message) {
  let out = message;
  const seen = new Set();
  for (const el of fields(form)) {
    if (seen.has(el.name) || !el.name.includes('_') && el.name.toLowerCase() !== el.name) continue;
    seen.add(el.name);
    const words = fieldLabel(el);
    const re = new RegExp(`(^|[^A-Za-z0-9_])"?${escapeRe(el.name)}"?(?=$|[^A-Za-z0-9_])`, 'g');
    out = out.replace(re, (m, pre, offset) => pre + (offset === 0 && pre === '' ? words : words.toLowerCase()));
  }
  return out.charAt(0).toUpperCase() + out.slice(1);
}

// fieldOf returns the field of form that message is about: the one it
// starts with ("name: …", "compute_units must…", `field "spec" must…`).
export function fieldOf(form, message) {
  const m = /^(?:field\s+)?"?([a-z][a-z0-9_]*)"?(?=[:\s])/.exec(message);
  if (!m) return null;
  return fields(form).find((el) => el.name === m[1]) || null;
}

// clearFieldErrors removes the errors shown next to the fields of form.
export function clearFieldErrors(form) {
  for (const p of form.querySelectorAll('.field-error')) p.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.startsWith('field-error-'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }
}

// showFormError shows err in form: next to the field it names, which gets
// the focus, or else in the form's own error line (summary). The fields
// keep their values.
export function showFormError(form, summary, err) {
  clearFieldErrors(form);
  const raw = err instanceof Error ? err.message : String(err);
  const text = humanize(form, raw);
  const field = fieldOf(form, raw);
  if (!field) {
    summary.textContent = text;
    summary.hidden = false;
    return;
  }
  summary.hidden = true;
  summary.textContent = '';
  const id = `field-error-${form.id || 'form'}-${field.name}`;
  // The message goes in the field's label, under the field, so that it
  // stays beside it in every layout. It is the field's description, not
  // part of its name; the field gets the focus, which reads both.
  const p = document.createElement('span');
  p.className = 'field-error';
  p.id = id;
  p.setAttribute('aria-hidden', 'true');
  p.textContent = text;
  const label = checkboxGroup(field) || field.closest('label');
  if (label) label.append(p);
  else field.after(p);
  field.setAttribute('aria-invalid', 'true');
  const ids = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  field.setAttribute('aria-describedby', [...ids, id].join(' '));
  field.focus();
}
