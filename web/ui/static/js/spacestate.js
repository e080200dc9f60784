// spacestate.js says what the spaces list and a space's page show of a
// space's state: its badge, and whether it has run a while without the
// agent knot starts in it, in which case it runs but cannot be used.
import { h } from './dom.js';

// agentLateMs is how long a space of a template that starts its agent may
// run without it before the UI says something is wrong.
export const agentLateMs = 30000;

// agentLate says whether the space has run for a while without its agent,
// which knot starts in it; manual is whether its template is manual (its
// agent is its owner's to run): null while unknown, which says nothing.
export function agentLate(s, manual) {
  const a = s.agent;
  return s.state === 'running' && manual === false && Boolean(s.started_at) && !(a && (a.connected || a.stale))
    && Date.now() - new Date(s.started_at).getTime() >= agentLateMs;
}

// showStateBadge makes el the badge of the space's state: "unreachable"
// when its location cannot be reached (away), "running · no agent" in the
// warning colour when it runs without its agent (late), else its state.
export function showStateBadge(el, s, away, late) {
  el.removeAttribute('title');
  if (away) {
    el.className = 'badge state unreachable';
    el.title = `Last reported ${s.state}`;
    el.textContent = 'unreachable';
    return el;
  }
  el.className = `badge state state-${s.state}${late ? ' no-agent' : ''}`;
  if (!late) {
    el.textContent = s.state;
    return el;
  }
  el.title = `Running, but its agent has not connected in ${agentLateMs / 1000} s: no terminal, SSH or web apps until it does.`;
  el.replaceChildren(
    h('span', { 'aria-hidden': 'true', text: `${s.state} · no agent` }),
    h('span', { class: 'sr-only', text: `${s.state}, but its agent is not connected` }),
  );
  return el;
}
