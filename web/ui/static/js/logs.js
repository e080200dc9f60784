// logs.js follows a space's log: GET /api/spaces/{id}/logs for what there
// is, then the websocket /logs/stream, which sends the recent lines again
// and every new one. It reconnects after a break, and stops when the log
// ends (the space was deleted).
import { api, path, wsURL } from './api.js';
import { h, fmtTime } from './dom.js';

const maxLines = 2000;

// followLogs shows the log of spaceId in el (a <pre>) and where it stands
// in status; onLine hears of every line that arrives.
export function followLogs({ el, status, spaceId, onLine }) {
  let retry = 1000;

  const line = (l) => h('span', { class: `log-line log-${l.level}`, text: `${fmtTime(l.at, { clock: true })}  ${l.text}\n` });
  const atEnd = () => el.scrollHeight - el.scrollTop - el.clientHeight < 8;
  const add = (lines, replace) => {
    const follow = atEnd();
    const nodes = lines.map(line);
    if (replace) el.replaceChildren(...nodes);
    else el.append(...nodes);
    while (el.childNodes.length > maxLines) el.firstChild.remove();
    if (follow) el.scrollTop = el.scrollHeight;
  };

  const open = () => {
    const ws = new WebSocket(wsURL(path('spaces', spaceId, 'logs', 'stream')));
    let first = true;
    ws.onopen = () => {
      status.textContent = 'Following the log.';
    };
    ws.onmessage = (ev) => {
      retry = 1000;
      let l;
      try {
        l = JSON.parse(ev.data);
      } catch {
        return;
      }
      add([l], first);
      first = false;
      if (onLine) onLine(l);
    };
    ws.onclose = (ev) => {
      if (ev.code === 1000) {
        status.textContent = 'The log has ended.';
        return;
      }
      status.textContent = 'The log stream broke; reconnecting…';
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 15000);
    };
  };

  (async () => {
    try {
      const data = await api('GET', path('spaces', spaceId, 'logs'));
      add(data.entries || [], true);
      const last = (data.entries || []).at(-1);
      if (last && onLine) onLine(last);
    } catch (err) {
      // The reason stands alone: an empty box under it would look like a
      // log still loading.
      status.textContent = err.message;
      el.hidden = true;
      return;
    }
    open();
  })();
}
