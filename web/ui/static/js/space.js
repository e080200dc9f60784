// space.js is the page of one space: its state (with the progress of a
// start or stop, and the reason of a failure in full), where it runs, its
// template and agent, its actions, its terminal and its log.
import './shell.js';
import { api, path } from './api.js';
import { $, $$, h, showError, hideError, confirmAction, poll, Editor, timeEl, ago, ready } from './dom.js';
import { announce, rowLabel } from './feedback.js';
import { SpaceTerminal } from './terminal.js';
import { followLogs } from './logs.js';
import { webPortLinks } from './ports.js';
import { agentLate, agentLateMs, showStateBadge } from './spacestate.js';

const root = $('#space');
const id = root.dataset.spaceId;
const here = document.body.dataset.location;
const pageError = $('#page-error');
const editor = new Editor('#editor');
const moving = new Set(['pending', 'starting', 'stopping', 'deleting']);
const canStart = new Set(['stopped', 'failed']);
const canStop = new Set(['running', 'starting']);
const doing = { start: 'starting', stop: 'stopping', restart: 'restarting', delete: 'deleting' };
let space = null;
let manual = null; // whether the space's template is manual: its agent runs where its owner runs it
const me = (($('#username') || {}).textContent || '').trim();
let busy = ''; // the action under way, if any
let step = ''; // the latest line of the log: the progress of a start or stop

const terminal = new SpaceTerminal({
  el: $('#terminal'), status: $('#terminal-status'), reconnect: $('#terminal-connect'), fresh: $('#terminal-new'),
  off: $('#terminal-off'), spaceId: id,
});

// runs is the shell the terminal's session runs, as the agent reports it:
// another than the space's when that one is not in the image.
let runs = '';
terminal.onSession = async (sessionId) => {
  let shell = '';
  try {
    const { sessions } = await api('GET', path('spaces', id, 'terminal'));
    shell = (sessions.find((se) => se.id === sessionId) || {}).shell || '';
  } catch {
    // The line shows the space's shell alone.
  }
  if (terminal.session !== sessionId) return; // another session opened meanwhile
  runs = shell;
  if (space) showShell(space);
};

// showShell shows the space's shell, and the one its terminal runs when
// the agent had to run another.
function showShell(s) {
  const base = (p) => p.slice(p.lastIndexOf('/') + 1);
  const other = s.shell && runs && base(runs) !== base(s.shell);
  text('#space-shell', other ? `${s.shell} (not in the image: the terminal runs ${runs})` : s.shell || '—');
}

async function load() {
  try {
    space = await api('GET', path('spaces', id));
    hideError(pageError);
    render();
  } catch (err) {
    showError(pageError, err.status === 404 ? `This space no longer exists (${err.message}).` : err);
  }
}

// refresh loads the space unless a load is under way.
let loading = null;
function refresh() {
  if (!loading) loading = load().finally(() => { loading = null; });
  return loading;
}

function text(sel, value) {
  $(sel).textContent = value;
}

function render() {
  const s = space;
  root.dataset.state = s.state;
  document.title = `${s.name} · knot`;
  text('#space-name', s.name);
  text('#crumb-name', s.name);
  text('#ssh-command', `ssh knot.${s.name}`);
  text('#ssh-host', `knot.${s.name}`);
  const desc = $('#space-description');
  desc.textContent = s.description || '';
  desc.hidden = !s.description;

  // A space whose location this server cannot reach now shows its last
  // reported state, marked unreachable, and its actions are disabled.
  const away = s.reachable === false;
  root.dataset.reachable = String(!away);
  showStateBadge($('#state-badge'), s, away, agentLate(s, manual));
  const unreachable = $('#space-unreachable');
  unreachable.hidden = !away;
  unreachable.textContent = away ? `Last reported ${s.state}. Location ${s.location} cannot be reached: ${s.unreachable_reason}. Its actions wait until it is back.` : '';
  const inMotion = (moving.has(s.state) && !away) || busy !== '';
  $('#state-progress').hidden = !inMotion;
  text('#state-step', step || `${doing[busy] || s.state}…`);

  text('#space-location', s.location + (s.location === here ? ' (this server)' : ''));
  text('#template-name', s.template_name || '—');
  $('#update-badge').hidden = !s.update_available;
  showShell(s);
  text('#space-owner', s.username || '—');
  $('#space-started').replaceChildren(...(s.state === 'running' && s.started_at ? [timeEl(s.started_at), ` (${ago(s.started_at)})`] : ['—']));
  showAgent(s);
  showPorts(s, away);

  const failure = $('#space-reason');
  failure.hidden = !s.reason;
  text('#space-reason h3', s.state === 'failed' ? 'Why it failed' : 'Last message');
  text('#reason-text', s.reason || '');

  const show = { start: canStart.has(s.state), stop: canStop.has(s.state), restart: s.state === 'running' };
  for (const b of $$('#space-actions button')) {
    const verb = b.dataset.action;
    if (verb in show) b.hidden = !show[verb];
    b.disabled = (inMotion && verb !== 'edit') || away;
    if (away) b.title = `Location ${s.location} cannot be reached`;
    else b.removeAttribute('title');
    b.setAttribute('aria-label', rowLabel(b.textContent, s.name));
  }

  const linked = s.agent && s.agent.connected;
  const off = s.with_terminal === false;
  let why = '';
  if (off) why = 'The template of this space turns its terminal off.';
  else if (away) why = `Location ${s.location} cannot be reached: the terminal opens when it is back.`;
  else if (s.state !== 'running') why = 'The terminal opens when the space runs.';
  else if (!linked && agentLate(s, manual)) why = `The space has run for ${runFor(s)}, but its agent has not connected: the terminal opens when it does. The log below may say why.`;
  else if (!linked) why = 'The terminal opens when the space\'s agent connects.';
  terminal.setAvailable(!off && !away && s.state === 'running' && Boolean(linked), why);
  showAgentHowto(s, linked, away);
  $('#ssh-panel').hidden = s.with_ssh === false;
  $('#ssh-later').hidden = s.state === 'running' && !away;
}

// showAgentHowto tells the owner of a manual space, while its agent is not
// linked, how to run it: nothing else on the page says so.
function showAgentHowto(s, linked, away) {
  if (manual === null && s.template_id) {
    manual = false; // asked once
    api('GET', path('templates', s.template_id))
      .then((t) => { manual = t.kind === 'manual'; render(); })
      .catch(() => {}); // a template this user may not read: no advice
  }
  text('#agent-env-command', `knot space agent-env ${s.name} > agent.env`);
  $('#agent-howto').hidden = !(manual && s.username === me && !linked && !away && canStop.has(s.state));
}

// showPorts lists the web apps of the space's template: links while it
// runs (the dashboard's links), their names until then.
function showPorts(s, away) {
  const ports = s.http_ports || [];
  $('#space-ports-fact').hidden = ports.length === 0;
  const open = s.state === 'running' && !away;
  const sig = JSON.stringify([open, ports]);
  const dd = $('#space-ports');
  if (dd.dataset.sig === sig) return; // a link keeps its focus across polls
  dd.dataset.sig = sig;
  if (!open) {
    dd.textContent = `${ports.map((p) => `${p.name} (${p.port})`).join(', ')}: links once the space runs`;
    return;
  }
  dd.replaceChildren(...webPortLinks(s));
}

// runFor says how long the space has run: "45 s", "3 min".
function runFor(s) {
  const secs = Math.max(0, Math.round((Date.now() - new Date(s.started_at).getTime()) / 1000));
  return secs < 90 ? `${secs} s` : `${Math.round(secs / 60)} min`;
}

// showAgent fills the Agent fact: agentText, and where to look when the
// agent is late.
function showAgent(s) {
  const dd = $('#space-agent');
  const late = agentLate(s, manual);
  dd.dataset.late = String(late);
  const said = agentText(s);
  const sig = JSON.stringify([said, late]);
  if (dd.dataset.sig === sig) return; // the link keeps its focus across polls
  dd.dataset.sig = sig;
  if (!late) {
    dd.textContent = said;
    return;
  }
  dd.replaceChildren(`${said} `, h('a', { href: '#logs-title', text: 'See the log for why' }), '.');
}

// agentText says whether the space's agent is connected, and for a space
// of another location, as a detail, which location says so. A space that
// does not run has no agent to connect.
function agentText(s) {
  const a = s.agent;
  if (!(a && (a.connected || a.stale)) && !canStop.has(s.state)) return 'Not running';
  if (agentLate(s, manual)) {
    const where = s.location !== here ? `location ${s.location}` : 'this server';
    return `Not connected: the space runs, but its agent has not reached ${where} in ${agentLateMs / 1000} s.`;
  }
  if (!a) return s.location !== here ? `Not connected yet (as location ${s.location} reports)` : 'Not connected yet';
  if (a.stale) return `Unknown: no news from location ${s.location} now${a.last_seen ? ` (last seen ${ago(a.last_seen)})` : ''}`;
  if (a.connected) {
    const server = s.location !== here ? `the server of location ${s.location} runs another` : `this server runs ${document.body.dataset.version || 'another'}`;
    return `Connected, version ${a.version || 'unknown'}${a.outdated ? ` (outdated: ${server})` : ''}`;
  }
  return a.last_seen ? `Not connected (last seen ${ago(a.last_seen)})` : 'Not connected';
}

// waitSettled polls the space until it is no longer moving, for up to
// two minutes.
async function waitSettled() {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    await load();
    if (space && !moving.has(space.state)) return;
    await new Promise((r) => { setTimeout(r, 500); });
  }
  throw new Error(`the space is still ${space ? space.state : 'busy'} after two minutes`);
}

// focusAfter puts the focus on the button of verb if it is still offered,
// else on the first action that is.
function focusAfter(verb) {
  const visible = $$('#space-actions button').filter((b) => !b.hidden && !b.disabled);
  (visible.find((b) => b.dataset.action === verb) || visible[0])?.focus();
}

async function act(verb) {
  if (verb === 'edit') {
    editor.open(`Edit ${space.name}`, { name: space.name, description: space.description, shell: space.shell || 'bash' });
    return;
  }
  if (verb === 'delete' && !await confirmAction(`Delete the space ${space.name}? Its runtime resources are removed too.`)) {
    return;
  }
  busy = verb;
  step = '';
  render();
  let failed = null;
  try {
    if (verb === 'delete') {
      await api('DELETE', path('spaces', id));
      location.assign('/spaces');
      return;
    }
    if (verb === 'restart') {
      await api('POST', path('spaces', id, 'stop'));
      await waitSettled();
      await api('POST', path('spaces', id, 'start'));
    } else {
      await api('POST', path('spaces', id, verb));
    }
  } catch (err) {
    failed = announce('error', `Could not ${verb} ${space.name}: ${err.message}`, () => $(`#space-actions button[data-action="${verb}"]`));
  }
  busy = '';
  await load();
  if (failed) failed.focus();
  else focusAfter(verb);
}

for (const b of $$('#space-actions button')) b.addEventListener('click', () => act(b.dataset.action));

editor.onSave(async (e) => {
  const body = { name: e.text('name'), description: e.text('description'), shell: e.raw('shell') };
  await api('PUT', path('spaces', id), body);
  announce('success', `Space ${body.name} saved.`);
  await load();
});

followLogs({
  el: $('#logs'), status: $('#logs-status'), spaceId: id,
  onLine: (l) => {
    step = l.text;
    if (space && moving.has(space.state)) render();
    // A line often means the state moved: look now, not at the next poll.
    if (space && (moving.has(space.state) || busy)) refresh();
  },
});

load().then(ready);
poll(load, 2000);
