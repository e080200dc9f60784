// terminal.js is a space's terminal in the page: xterm.js over the API's
// websocket GET /api/spaces/{id}/terminal (see web/terminal.go).
//
// It reattaches to the session the space's agent keeps (the newest one
// nobody watches, else the newest), which replays its recent output, so a
// reload loses nothing; it opens a new session only when there is none or
// when asked to. Binary messages carry the terminal's bytes both ways; the
// size follows the page through the fit addon and {"type":"resize"}.
import { Terminal } from '../vendor/xterm/xterm.mjs';
import { FitAddon } from '../vendor/addon-fit/addon-fit.mjs';
import { api, path, wsURL } from './api.js';

// cspStyles makes xterm's styles work under the page's Content-Security-
// Policy, which applies no inline style. xterm writes its theme and cell
// sizes into <style> elements and a few colours into style attributes; the
// text of each <style> under root goes into a constructed stylesheet, and
// each refused style attribute is set again through the CSSOM, both of
// which the policy allows.
function cspStyles(root) {
  const sheets = new Map(); // <style> element → [stylesheet, its text]
  const sync = (mutations) => {
    for (const el of root.querySelectorAll('style')) {
      let entry = sheets.get(el);
      if (!entry) {
        entry = [new CSSStyleSheet(), null];
        sheets.set(el, entry);
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, entry[0]];
      }
      if (entry[1] !== el.textContent) {
        entry[1] = el.textContent;
        entry[0].replaceSync(el.textContent);
      }
    }
    for (const [el, [sheet]] of sheets) {
      if (el.isConnected) continue;
      sheets.delete(el);
      document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
    }
    for (const m of mutations || []) {
      if (m.type !== 'attributes') continue;
      const el = m.target;
      const want = el.getAttribute('style');
      if (want && el.style.length === 0) el.style.cssText = want;
    }
  };
  new MutationObserver(sync).observe(root, {
    childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['style'],
  });
  sync();
}

const theme = {
  background: '#1c2027', foreground: '#e4e7ec', cursor: '#e4e7ec', selectionBackground: '#4a5568',
};

// SpaceTerminal is the terminal of the space spaceId in the element el.
// status shows where it stands; reconnect and fresh are the buttons that
// reattach and that open a new session; off says why there is none.
export class SpaceTerminal {
  constructor({ el, status, reconnect, fresh, off, spaceId }) {
    Object.assign(this, { el, statusEl: status, reconnectBtn: reconnect, freshBtn: fresh, offEl: off, spaceId });
    this.ws = null;
    this.available = false;
    this.session = '';
    this.encoder = new TextEncoder();
    cspStyles(el);
    this.term = new Terminal({
      cursorBlink: true, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace', fontSize: 14,
      scrollback: 5000, theme,
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    this.term.open(el);
    this.term.onData((d) => this.send(this.encoder.encode(d)));
    this.term.onBinary((d) => this.send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 255)));
    this.term.onResize(({ cols, rows }) => this.send(JSON.stringify({ type: 'resize', cols, rows })));
    // The terminal takes Tab for the shell; Escape and then Tab (or
    // Shift+Tab) leaves it, as the keyboard leaves any other field. The
    // Escape still reaches the shell.
    let escapeAt = 0;
    this.term.attachCustomKeyEventHandler((ev) => {
      if (ev.type !== 'keydown') return true;
      if (ev.key === 'Escape') {
        escapeAt = Date.now();
        return true;
      }
      const leave = ev.key === 'Tab' && Date.now() - escapeAt < 1500;
      escapeAt = 0;
      return !leave; // false: xterm leaves the key to the browser
    });
    new ResizeObserver(() => this.refit()).observe(el);
    reconnect.addEventListener('click', () => this.connect(false));
    fresh.addEventListener('click', () => this.connect(true));
    el.hidden = true;
  }

  refit() {
    if (this.el.hidden || this.el.clientWidth === 0) return;
    try {
      this.fit.fit();
    } catch {
      // Not laid out yet: the next resize fits it.
    }
  }

  send(data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  status(text, { reconnect = false, fresh = false } = {}) {
    this.statusEl.textContent = text;
    this.reconnectBtn.hidden = !reconnect;
    this.freshBtn.hidden = !fresh;
  }

  // setAvailable says whether the space can have a terminal now (it runs
  // and its agent is linked); why says why not. The terminal connects when
  // it becomes available and closes when it stops being so.
  // A terminal that was open and is no more stays to be read, marked ended:
  // dimmed, without its cursor, taking no keys.
  setAvailable(ok, why) {
    const was = this.available;
    this.available = ok;
    const ended = !ok && !this.el.hidden;
    this.offEl.textContent = (why || '') + (ended ? ' Below is the end of the last session, which ended.' : '');
    this.offEl.hidden = ok || !why;
    if (ok && !was) {
      this.setEnded(false);
      this.el.hidden = false;
      this.refit();
      this.connect(false);
    } else if (!ok && was) {
      this.close();
      this.status('');
      this.setEnded(true);
    }
  }

  setEnded(ended) {
    this.el.classList.toggle('ended', ended);
    this.el.inert = ended;
    this.term.options.disableStdin = ended;
    if (ended) {
      this.term.blur();
      this.term.write('\x1b[?25l'); // hide the cursor; a new session resets the screen
    }
  }

  close() {
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onclose = null;
    ws.close(1000);
  }

  // newest returns the id of the session to reattach to, or ''.
  async newest() {
    const { sessions } = await api('GET', path('spaces', this.spaceId, 'terminal'));
    const byAge = [...sessions].sort((a, b) => new Date(b.created) - new Date(a.created));
    const free = byAge.find((s) => s.viewers === 0);
    return (free || byAge[0] || {}).id || '';
  }

  // connect opens the terminal: a new session when fresh, else the kept one
  // when there is one.
  async connect(fresh) {
    this.close();
    this.status('Connecting…');
    let attach = '';
    if (!fresh) {
      try {
        attach = await this.newest();
      } catch (err) {
        this.status(`The terminal cannot be opened: ${err.message}`, { reconnect: true });
        return;
      }
    }
    if (!this.available) return;
    this.refit();
    const q = new URLSearchParams();
    if (attach) q.set('attach', attach);
    else {
      q.set('cols', String(this.term.cols));
      q.set('rows', String(this.term.rows));
    }
    const ws = new WebSocket(`${wsURL(path('spaces', this.spaceId, 'terminal'))}?${q}`);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let started = false;
    let exited = false;
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') {
        this.term.write(new Uint8Array(ev.data));
        return;
      }
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (m.type === 'session') {
        started = true;
        this.session = m.id;
        // A reattached session keeps the screen it had: clear ours, the
        // replay draws it again, in the size of this page.
        this.term.reset();
        this.send(JSON.stringify({ type: 'resize', cols: this.term.cols, rows: this.term.rows }));
        this.status(attach ? `Reattached to session ${m.id}.` : `Session ${m.id}: it stays open for a while when you reload or leave the page.`, { fresh: true });
        this.el.dataset.session = m.id;
        if (this.onSession) this.onSession(m.id);
        this.term.focus();
      } else if (m.type === 'exit') {
        exited = true;
        const why = m.reason ? `: ${m.reason}` : ` with exit code ${m.code ?? 0}`;
        this.status(`The session ended${why}.`, { fresh: true });
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (exited) return;
      if (!started && attach) {
        // The kept session went away in between: open a new one.
        this.connect(true);
        return;
      }
      const why = ev.reason ? `: ${ev.reason}` : '.';
      this.status(`The terminal connection closed${why} The session is kept for a while.`, { reconnect: true, fresh: true });
    };
  }
}
