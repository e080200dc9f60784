// dom.js builds and updates pages without HTML strings: text always goes in
// as text, so nothing the server returns is parsed as markup.
import { showFormError, clearFieldErrors } from './feedback.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// h makes an element. props: class, text, dataset, on<event> handlers,
// and attributes (true sets an empty attribute; false, null and undefined
// set none). children are nodes or strings; false, null and undefined are
// left out.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// PERM are the permission ids of the API (GET /api/permissions).
export const PERM = Object.freeze({
  ManageUsers: 0, ManageTemplates: 1, ManageSpaces: 2, ManageVolumes: 3, ManageGroups: 4, ManageRoles: 5,
  ManageVariables: 6, UseSpaces: 7, UseTunnels: 8, ViewAuditLogs: 9, TransferSpaces: 10, ShareSpaces: 11,
});

// perms returns the permission ids of the user, as the page was served.
export function perms() {
  const s = document.body.dataset.perms || '';
  return new Set(s.split(',').filter((x) => x !== '').map(Number));
}

export function showError(el, err) {
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

export function hideError(el) {
  el.hidden = true;
  el.textContent = '';
}

// zoneNames names the browser's own zone, in its language: "CET".
const zoneNames = new Intl.DateTimeFormat(undefined, { timeZoneName: 'short' });

// clocks holds, by zone ('' for the browser's), the formatter of a date and
// time of day in digits; null for a zone the browser does not know.
const clocks = new Map();

function clockIn(zone) {
  if (!clocks.has(zone)) {
    let f = null;
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone || undefined, hourCycle: 'h23',
        year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
      });
    } catch {
      // RangeError: not a zone of this browser's tz database.
    }
    clocks.set(zone, f);
  }
  return clocks.get(zone);
}

// timeZone returns the zone times show in: that of the user's profile (the
// page's data-timezone, as served or as My account saved it), when the
// browser knows it; '' for the browser's own.
export function timeZone() {
  const zone = document.body?.dataset.timezone || '';
  return zone && clockIn(zone) ? zone : '';
}

// setTimeZone makes times shown from now on show in zone ('' for the
// browser's), as after the user saved it in their profile.
export function setTimeZone(zone) {
  document.body.dataset.timezone = zone || '';
}

// fmtTime shows an RFC 3339 time (or a Date) in the zone of the user's
// profile, which it names as the tz database does: "2026-12-08 03:20
// Asia/Tokyo"; without one, in the browser's zone, named as the browser
// does: "2026-12-07 18:20 CET". With clock, the time of day alone, to the
// second: "18:20:05 CET". '—' for none; what is not a time is shown as it
// is.
export function fmtTime(s, { clock = false } = {}) {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  const zone = timeZone();
  const p = Object.fromEntries(clockIn(zone).formatToParts(d).map((x) => [x.type, x.value]));
  const name = zone || zoneNames.formatToParts(d).find((x) => x.type === 'timeZoneName')?.value || '';
  const hm = `${p.hour}:${p.minute}`;
  const when = clock ? `${hm}:${p.second}` : `${p.year}-${p.month}-${p.day} ${hm}`;
  return name ? `${when} ${name}` : when;
}

// timeEl is a <time> that shows s as fmtTime does, or as text (such as
// "5 min ago", then its title says the time too), and holds the exact
// instant, in UTC, in its datetime and title.
export function timeEl(s, text = fmtTime(s)) {
  const d = s ? new Date(s) : null;
  if (!d || Number.isNaN(d.getTime())) return document.createTextNode(text);
  const iso = d.toISOString();
  const shown = fmtTime(d);
  return h('time', { datetime: iso, title: text === shown ? iso : `${shown} (${iso})`, text });
}

// ago shows how long ago an RFC 3339 time was.
export function ago(s) {
  if (!s) return '—';
  const secs = Math.round((Date.now() - new Date(s).getTime()) / 1000);
  if (Number.isNaN(secs)) return s;
  if (secs < 5) return 'just now';
  if (secs < 90) return `${secs} s ago`;
  if (secs < 90 * 60) return `${Math.round(secs / 60)} min ago`;
  if (secs < 36 * 3600) return `${Math.round(secs / 3600)} h ago`;
  return `${Math.round(secs / 86400)} days ago`;
}

// confirmAction asks in the page's confirmation dialog; it resolves to
// true when the user confirms.
export function confirmAction(message, okLabel = 'Delete') {
  const dialog = $('#confirm-dialog');
  $('#confirm-message').textContent = message;
  $('#confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

// poll calls fn every ms milliseconds while the page is visible, never two
// at a time.
export function poll(fn, ms) {
  let busy = false;
  const tick = async () => {
    if (busy || document.hidden) return;
    busy = true;
    try {
      await fn();
    } finally {
      busy = false;
    }
  };
  setInterval(tick, ms);
  document.addEventListener('visibilitychange', tick);
}

// setRows makes the rows of tbody those of items, in order, keeping the rows
// whose item did not change (so that a refresh does not disturb the
// user). sigOf returns what the row shows; a row is rebuilt when it
// changes, or the zone its times show in (timeZone) does. The focus stays
// in a rebuilt row (rowFocus).
export function setRows(tbody, items, keyOf, rowOf, sigOf = (item) => JSON.stringify(item)) {
  const old = new Map([...tbody.rows].map((r) => [r.dataset.key, r]));
  const keep = rowFocus(tbody);
  const zone = timeZone();
  let prev = null;
  for (const item of items) {
    const key = String(keyOf(item));
    const sig = `${zone} ${sigOf(item)}`;
    let row = old.get(key);
    if (!row || row.dataset.sig !== sig) {
      const fresh = rowOf(item);
      fresh.dataset.key = key;
      fresh.dataset.sig = sig;
      if (row) row.replaceWith(fresh);
      row = fresh;
    }
    old.delete(key);
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (row !== want) tbody.insertBefore(row, want);
    prev = row;
  }
  for (const r of old.values()) r.remove();
  keep();
}

// rowFocus notes which element of a row of tbody has the focus and returns
// a function that, once the row was rebuilt, puts the focus on the same
// control of the new row (same name, or same action), else on its first
// button that can be pressed, else on the row itself, so that a keyboard
// user is never dropped to the top of the page by a refresh. The row keeps
// a focus it got that way until one of its buttons can take it.
function rowFocus(tbody) {
  const el = document.activeElement;
  const row = el && el.closest && el.closest('tr[data-key]');
  if (!row || row.parentElement !== tbody) return () => {};
  const key = row.dataset.key;
  const label = el.getAttribute('aria-label');
  const action = el.dataset.action;
  return () => {
    if (el.isConnected) {
      // A row moved in the table loses the focus: give it back.
      if (document.activeElement !== el) el.focus();
      return;
    }
    const fresh = [...tbody.rows].find((r) => r.dataset.key === key);
    if (!fresh) return;
    const usable = (sel) => [...fresh.querySelectorAll(sel)].find((c) => !c.disabled && c.checkVisibility());
    const target = (label && usable(`[aria-label="${CSS.escape(label)}"]`))
      || (action && usable(`button[data-action="${CSS.escape(action)}"]`))
      || usable('button');
    if (target) {
      target.focus();
      return;
    }
    fresh.tabIndex = -1;
    fresh.focus();
  };
}

// byName sorts records by their name, case-insensitively.
export function byName(a, b) {
  return (a.name || a.username || '').localeCompare(b.name || b.username || '', undefined, { sensitivity: 'base' });
}

// focusKeeper notes where the focus is and returns a function that puts it
// back: on the same element, or, when a refresh has rebuilt its row, on the
// button of the same action in the row of the same key; else on the main
// content.
export function focusKeeper() {
  const el = document.activeElement;
  const row = el && el.closest('tr[data-key]');
  const tbody = row && row.parentElement;
  const key = row && row.dataset.key;
  const action = el && el.dataset && el.dataset.action;
  return () => {
    if (el && el !== document.body && el.isConnected) {
      el.focus();
      return;
    }
    const fresh = tbody && [...tbody.rows].find((r) => r.dataset.key === key);
    const button = fresh && (fresh.querySelector(`button[data-action="${action}"]:not(:disabled)`) || fresh.querySelector('button:not(:disabled)'));
    (button || document.getElementById('main'))?.focus();
  };
}

// Editor is a dialog with a form that creates or changes a record. The
// server's answer to a refused save is shown in the form as it came. When
// the dialog closes, the focus goes back to where it was when it opened.
export class Editor {
  constructor(dialogSelector) {
    this.dialog = $(dialogSelector);
    this.form = $('form', this.dialog);
    this.error = $('.error', this.form);
    this.title = $('h2', this.dialog);
    this.submit = $('button[type="submit"]', this.form);
    this.editing = null;
    this.restoreFocus = null;
    $('button.cancel', this.form).addEventListener('click', () => this.dialog.close());
    // The close event comes a task after the dialog closed, which has
    // given the focus back to its opener already if it is still there: by
    // then the focus may have moved on, and only a focus lost (to the page,
    // as when the opener's row was rebuilt) is given back.
    this.dialog.addEventListener('close', () => {
      const a = document.activeElement;
      if (a && a !== document.body && !this.dialog.contains(a)) return;
      this.restoreFocus?.();
    });
    // The Enter that opened the dialog from a button must not also submit
    // it: its keypress reaches the field that has just taken the focus. A
    // save counts once a key or pointer was pressed in the form.
    this.armed = false;
    for (const ev of ['keydown', 'pointerdown']) this.form.addEventListener(ev, () => { this.armed = true; });
  }

  // open shows the form titled title, filled from values; editing is the id
  // of the record being changed, or null for a new one.
  open(title, values = {}, editing = null) {
    this.editing = editing;
    this.armed = false;
    this.restoreFocus = focusKeeper();
    this.title.textContent = title;
    this.form.reset();
    this.fill(values);
    hideError(this.error);
    clearFieldErrors(this.form);
    this.dialog.showModal();
    const first = $('input:not([type="checkbox"]):not([readonly]), select, textarea', this.form);
    if (first) first.focus();
  }

  fill(values) {
    for (const el of this.form.elements) {
      if (!el.name || !(el.name in values)) continue;
      const v = values[el.name];
      if (el.type === 'checkbox') el.checked = Array.isArray(v) ? v.includes(el.value) : Boolean(v);
      else el.value = v ?? '';
    }
  }

  el(name) {
    return this.form.elements.namedItem(name);
  }

  text(name) {
    return this.el(name).value.trim();
  }

  raw(name) {
    return this.el(name).value;
  }

  int(name) {
    const v = this.el(name).value.trim();
    return v === '' ? 0 : Number(v);
  }

  checked(name) {
    return this.el(name).checked;
  }

  // list splits a comma-separated field.
  list(name) {
    return this.text(name).split(',').map((s) => s.trim()).filter((s) => s !== '');
  }

  // onSave runs fn(editor) when the form is submitted; the dialog closes
  // when it succeeds and shows the error when it throws, next to the field
  // it names, keeping what was typed. An error whose shown is true is
  // already shown where it belongs.
  onSave(fn) {
    this.form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!this.armed) return;
      hideError(this.error);
      clearFieldErrors(this.form);
      this.submit.disabled = true;
      try {
        await fn(this);
        this.dialog.close();
      } catch (err) {
        if (!err.shown) showFormError(this.form, this.error, err);
      } finally {
        this.submit.disabled = false;
      }
    });
  }
}

// checkboxes fills container with one checkbox per option ({value, label}),
// checked when its value is in checked.
export function checkboxes(container, name, options, checked = []) {
  const on = new Set(checked);
  container.replaceChildren(...options.map((o) =>
    h('label', {}, h('input', { type: 'checkbox', name, value: o.value, checked: on.has(o.value) }), o.label)));
  if (options.length === 0) container.replaceChildren(h('span', { class: 'hint', text: 'None exist yet.' }));
}

// checkedValues returns the values of the checked boxes in container.
export function checkedValues(container) {
  return $$('input[type="checkbox"]:checked', container).map((el) => el.value);
}

// secretNotice shows a secret that is shown only once, with a button that
// copies it where the browser allows, and one that hides it.
export function secretNotice(el, text, secret) {
  const code = h('code', { class: 'secret', id: 'secret', text: secret });
  const copy = navigator.clipboard && h('button', {
    type: 'button', class: 'small', text: 'Copy',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(secret);
        copy.textContent = 'Copied';
      } catch {
        copy.textContent = 'Copy it by hand';
      }
    },
  });
  const done = h('button', { type: 'button', class: 'small quiet', text: 'Dismiss', onclick: () => { el.hidden = true; el.replaceChildren(); } });
  el.replaceChildren(h('span', { text }), code, copy, done);
  el.hidden = false;
}

// showTOTPSecret shows a two-factor secret in el as authenticator apps
// show it, in groups of four characters that a line breaks between but
// not inside. The groups are spaced by the stylesheet, not by spaces: the
// element's text, and what is copied of it, is the secret itself.
export function showTOTPSecret(el, secret) {
  const groups = (secret || '').match(/.{1,4}/g) || [];
  el.replaceChildren(...groups.flatMap((g, i) => (i ? [h('wbr', {}), h('span', { text: g })] : [h('span', { text: g })])));
}

// ready marks the page as loaded: its first data is shown (or its error).
export function ready() {
  const main = document.querySelector('main');
  if (main) main.setAttribute('aria-busy', 'false');
}

// showQR shows img with src when it is a PNG the server made (a data:
// URL), and hides it otherwise.
export function showQR(img, src) {
  if (typeof src === 'string' && src.startsWith('data:image/png;base64,')) {
    img.src = src;
    img.hidden = false;
  } else {
    img.removeAttribute('src');
    img.hidden = true;
  }
}
