// originbanner.js shows, on every page of a leaf, a banner while the leaf
// cannot reach its origin: why, and what cannot be done meanwhile. Users,
// groups, roles, API tokens, templates and shared variables change at the
// origin, so on their pages the controls that would change them are
// disabled, with the reason, until the origin is back. The spaces and local
// variables of this location keep working.
import { api } from './api.js';
import { fmtTime } from './dom.js';

const banner = document.getElementById('origin-banner');
const page = document.body.dataset.page;

// controls are, on each page whose records change at the origin, what
// would change one: the New button, each row's Edit and Delete, and the
// submit button of a form. Local variables are the leaf's own: their rows
// and the New button (a new variable may be local) stay enabled.
const all = '.page-head .actions button, button[data-action="edit"], button[data-action="delete"], button[data-action="reset-totp"], form button[type="submit"]';
const sharedRows = 'tr:not([data-local="true"]) button[data-action="edit"], tr:not([data-local="true"]) button[data-action="delete"]';
const controls = {
  users: all, groups: all, roles: all, tokens: all, templates: all, variables: sharedRows,
  account: '#totp-form button[type="submit"], #totp-confirm-form button[type="submit"]',
}[page];

const cannot = 'users, groups, roles, API tokens, templates and shared variables cannot be changed here: they change at the origin';
let down = null; // the reason while the origin is unreachable

function lock(root) {
  if (!controls) return;
  for (const b of root.querySelectorAll(controls)) {
    if (b.dataset.originLocked) continue;
    b.dataset.originLocked = b.disabled ? 'was' : 'yes';
    if (b.title) b.dataset.originTitle = b.title;
    b.disabled = true;
    b.title = `The origin cannot be reached: ${cannot}.`;
    b.setAttribute('aria-describedby', 'origin-banner');
  }
}

function unlock() {
  for (const b of document.querySelectorAll('[data-origin-locked]')) {
    b.disabled = b.dataset.originLocked === 'was';
    if (b.dataset.originTitle) b.title = b.dataset.originTitle;
    else b.removeAttribute('title');
    b.removeAttribute('aria-describedby');
    delete b.dataset.originLocked;
    delete b.dataset.originTitle;
  }
}

// Rows and dialogs that pages build after the banner came are locked too.
const observer = new MutationObserver(() => {
  if (down !== null) lock(document.body);
});

// line is a line of the banner: said in bold, then more, then a small
// button with id and label that calls onClick.
function line(said, more, id, label, onClick) {
  const p = document.createElement('p');
  const strong = document.createElement('strong');
  strong.textContent = said;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'small';
  button.id = id;
  button.textContent = label;
  button.addEventListener('click', onClick);
  p.append(strong, more, button);
  return p;
}

function show(s) {
  const since = s.since ? ` since ${fmtTime(s.since)}` : '';
  const next = s.next_attempt ? ` The leaf tries again at ${fmtTime(s.next_attempt, { clock: true })}. ` : ' ';
  // What it means comes first, in words; the cause, in words too, comes
  // last and smaller.
  const why = line(`The origin${s.origin_server ? ` ${s.origin_server}` : ''} has been unreachable${since}.`, next, 'origin-retry', 'Try now', tryNow);
  const what = document.createElement('p');
  what.textContent = `Until it is back, ${cannot}, and spaces of other locations cannot be started or stopped. The spaces and local variables of this location keep working.`;
  const cause = document.createElement('p');
  cause.className = 'cause';
  cause.textContent = `Cause: ${s.reason || 'no reason given'}.`;
  // The error as the network or TLS gave it is for an operator: there,
  // but folded.
  let details = null;
  if (s.reason_detail) {
    details = document.createElement('details');
    details.className = 'cause-detail';
    const summary = document.createElement('summary');
    summary.textContent = 'The error in full';
    const code = document.createElement('code');
    code.textContent = s.reason_detail;
    details.append(summary, code);
    details.open = Boolean(banner.querySelector('details.cause-detail')?.open); // as it was
  }
  clearTimeout(backTimer);
  banner.classList.remove('back');
  banner.style.minHeight = '';
  banner.replaceChildren(why, what, cause, ...(details ? [details] : []));
  banner.hidden = false;
  document.body.dataset.originReachable = 'false';
  lock(document.body);
  observer.observe(document.body, { childList: true, subtree: true });
}

// tryNow has the leaf dial its origin now, and shows the outcome as soon
// as there is one.
async function tryNow(ev) {
  const button = ev.currentTarget;
  retried = true; // the focus, lost as the button is disabled, goes to what comes next
  button.disabled = true;
  button.textContent = 'Trying…';
  try {
    await api('POST', '/api/leaf/retry');
  } catch {
    // the next check says how the link is
  }
  // The attempt starts within a second; its outcome shows in the status.
  for (const ms of [1200, 2500, 5000]) setTimeout(check, ms);
  setTimeout(() => {
    retried = false;
    button.disabled = false;
    button.textContent = 'Try now';
  }, 5000);
}

// backMs is how long the banner says that the origin is back.
const backMs = 8000;
let backTimer = 0;
let retried = false; // whether Try now was pressed in the last seconds

// back says, in the banner's place and in its live region, that the origin
// is reachable again, and unlocks what it locked. The banner keeps its
// height meanwhile, so that the page does not move under the reader; it goes
// after backMs or on Dismiss.
function back() {
  observer.disconnect();
  unlock();
  document.body.dataset.originReachable = 'true';
  const focused = banner.contains(document.activeElement) || (retried && document.activeElement === document.body);
  banner.style.minHeight = `${banner.getBoundingClientRect().height}px`;
  banner.classList.add('back');
  banner.replaceChildren(line('The origin is reachable again.', ' ', 'origin-back-dismiss', 'Dismiss', hide));
  if (focused) document.getElementById('origin-back-dismiss').focus(); // "Try now" went with the banner's content
  clearTimeout(backTimer);
  backTimer = setTimeout(hide, backMs);
}

function hide() {
  clearTimeout(backTimer);
  const focused = banner.contains(document.activeElement);
  banner.hidden = true;
  banner.replaceChildren();
  banner.classList.remove('back');
  banner.style.minHeight = '';
  if (focused) document.getElementById('main')?.focus();
  document.body.dataset.originReachable = 'true';
  observer.disconnect();
  unlock();
}

async function check() {
  let s;
  try {
    s = await api('GET', '/api/leaf/status');
  } catch {
    return; // this server itself did not answer: nothing new about the origin
  }
  if (s.origin_reachable) {
    if (down !== null) back();
    down = null;
    document.body.dataset.originReachable = 'true';
    return;
  }
  const sig = JSON.stringify([s.reason, s.reason_detail, s.since, s.next_attempt]);
  if (sig !== down) show(s);
  down = sig;
}

if (banner) {
  check();
  setInterval(() => { if (!document.hidden) check(); }, 5000);
  document.addEventListener('visibilitychange', () => { if (!document.hidden) check(); });
}
