// codeeditor.js makes a textarea a small code editor: line numbers beside
// it, YAML or HCL highlighted under it, and a mark on the line of an error
// with its message in a note beside the code, at the line's height (under
// the code in a narrow editor), and below the editor. The textarea stays
// the field that is typed in, submitted and labelled: the numbers and the
// colours are a picture of its text, hidden from assistive technology, and
// the message is the textarea's description. Text goes in as text, never
// as markup.
import { h } from './dom.js';

// A language is the rules for the start of a line (tried once, in order)
// and for the tokens after it (tried at each position, in order); each is
// [class, sticky regular expression]. Text no rule matches is plain.
const template = ['tpl', /\$\{\{.*?\}\}/y];

const languages = {
  yaml: {
    start: [
      ['meta', /---(?=\s|$)|\.\.\.(?=\s|$)/y],
      ['punct', /\s*-(?=\s|$)/y],
      ['key', /\s*(?:-\s+)?(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[\]},&*!|>%@`-][^#:]*?|-[^\s#:][^#:]*?)\s*:(?=\s|$)/y],
    ],
    tokens: [
      ['comment', /(?<=^|\s)#.*/y],
      template,
      ['string', /"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?/y],
      ['key', /[^\s#'"{[\]},:]+(?=:\s)/y],
      ['atom', /(?:true|false|yes|no|on|off|null|~)(?=\s*(?:$|#|,|\]|\}))/iy],
      ['number', /[-+]?(?:\d[\d_]*(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+|0x[\da-f]+|0o[0-7]+)(?=\s*(?:$|#|,|\]|\}))/iy],
      ['meta', /[&*][^\s,\]}]+|![^\s]*|[|>][-+]?\d*(?=\s*(?:$|#))/y],
      ['punct', /[[\]{},]|[:-](?=\s|$)/y],
      ['plain', /(?:[^\s"'#$[\]{},:]|:(?!\s|$))+|\s+|./y],
    ],
  },
  hcl: {
    start: [
      ['key', /\s*[A-Za-z_][\w-]*(?=\s*=(?!=))/y],
      ['block', /\s*[A-Za-z_][\w-]*(?=\s*(?:"|\{|[A-Za-z_][\w-]*\s*\{))/y],
    ],
    tokens: [
      ['comment', /#.*|\/\/.*|\/\*.*?(?:\*\/|$)/y],
      template,
      ['string', /"(?:[^"\\]|\\.)*"?/y],
      ['meta', /<<-?[A-Za-z_]\w*/y],
      ['atom', /(?:true|false|null)\b/y],
      ['number', /\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b/y],
      ['punct', /[[\]{}(),=:?<>!+*/%&|-]/y],
      ['plain', /[A-Za-z_][\w-]*|\s+|./y],
    ],
  },
};

// tokens splits one line into [class, text] pairs by the rules of lang.
export function tokens(lang, line) {
  const rules = languages[lang];
  if (!rules) return [['plain', line]];
  const out = [];
  let pos = 0;
  for (const [cls, re] of rules.start) {
    re.lastIndex = 0;
    const m = re.exec(line);
    if (m && m[0].length > 0) {
      out.push([cls, m[0]]);
      pos = m[0].length;
      break;
    }
  }
  while (pos < line.length) {
    let matched = false;
    for (const [cls, re] of rules.tokens) {
      re.lastIndex = pos;
      const m = re.exec(line);
      if (m && m[0].length > 0) {
        const last = out[out.length - 1];
        if (last && last[0] === cls) last[1] += m[0];
        else out.push([cls, m[0]]);
        pos += m[0].length;
        matched = true;
        break;
      }
    }
    if (!matched) {
      out.push(['plain', line.slice(pos)]);
      break;
    }
  }
  return out;
}

let serial = 0;

// CodeEditor enhances textarea. Call refresh after setting its value from a
// script; the editor follows what is typed by itself.
// yamlWords are, for the YAML parser's terse messages, what they usually
// mean, in the words of someone writing a spec.
const yamlWords = [
  ['did not find expected key', 'this line is not indented like the lines of its block: line it up with them'],
  ["did not find expected '-' indicator", 'a list item starts with "- ": this line is indented like one but is not'],
  ['found a tab character', 'YAML is indented with spaces, not tabs'],
  ['mapping values are not allowed', 'a "key: value" is where none may be: check the indentation, or quote a value that holds ": "'],
  ["did not find expected ',' or ']'", 'a list opened with [ is not closed with ]'],
  ["did not find expected ',' or '}'", 'a map opened with { is not closed with }'],
  ['found unexpected end of stream', 'a quote or a bracket is opened and never closed'],
];

// plainWords returns what a parser's message means in plain words, or ''.
export function plainWords(message) {
  const m = yamlWords.find(([said]) => message.includes(said));
  return m ? m[1] : '';
}

export class CodeEditor {
  constructor(textarea, lang = 'yaml') {
    this.input = textarea;
    this.lang = lang;
    this.error = null; // {line, column, message}
    this.input.setAttribute('wrap', 'off');
    this.input.classList.add('ce-input');
    this.input.spellcheck = false;
    this.gutter = h('div', { class: 'ce-gutter', 'aria-hidden': 'true' });
    this.code = h('code', {});
    this.picture = h('pre', { class: 'ce-picture', 'aria-hidden': 'true' }, this.code);
    this.body = h('div', { class: 'ce-body' });
    // The note says the error beside the code, never over it: the text
    // typed is transparent over its picture, so nothing can open a gap
    // between two of its lines for a message to wrap in.
    this.noteText = h('span', { class: 'ce-note-text' });
    this.note = h('span', { class: 'ce-note', 'aria-hidden': 'true', hidden: true }, this.noteText);
    this.root = h('span', { class: 'code-editor', dataset: { lang } }, this.gutter, this.body, this.note);
    this.message = h('span', { class: 'ce-message', id: `ce-message-${++serial}`, role: 'status' });
    this.message.hidden = true;
    textarea.replaceWith(this.root);
    this.body.append(this.picture, textarea);
    // The message goes after the label, so that it is not part of the
    // textarea's name.
    (this.root.closest('label') || this.root).after(this.message);
    this.input.addEventListener('input', () => this.refresh());
    this.input.addEventListener('scroll', () => this.sync());
    new ResizeObserver(() => this.sync()).observe(this.input);
    this.refresh();
  }

  // setLanguage highlights as lang: 'yaml', 'hcl', or anything else for
  // none.
  setLanguage(lang) {
    this.lang = lang;
    this.root.dataset.lang = lang;
    this.refresh();
  }

  // refresh draws the numbers and the picture of the text again.
  refresh() {
    const lines = this.input.value.split('\n');
    const err = this.error;
    const nums = [];
    const rows = [];
    lines.forEach((line, i) => {
      const n = i + 1;
      const bad = err && err.line === n;
      nums.push(h('div', { class: bad ? 'ce-num ce-bad' : 'ce-num', text: String(n) }));
      const row = h('span', { class: bad ? 'ce-line ce-bad' : 'ce-line' },
        ...tokens(this.lang, line).map(([cls, text]) => (cls === 'plain' ? text : h('span', { class: `tk-${cls}`, text }))));
      rows.push(row, '\n');
    });
    this.gutter.replaceChildren(...nums);
    this.code.replaceChildren(...rows);
    this.note.hidden = !err;
    this.noteText.textContent = err ? err.message : '';
    if (err) this.noteText.dataset.line = String(err.line);
    this.sync();
  }

  // sync scrolls the numbers and the picture with the text, and keeps the
  // note beside the marked line while it is in view (at the edge of the
  // view while it is not).
  sync() {
    this.picture.scrollTop = this.input.scrollTop;
    this.picture.scrollLeft = this.input.scrollLeft;
    this.gutter.scrollTop = this.input.scrollTop;
    if (!this.error) return;
    const pad = parseFloat(getComputedStyle(this.input).paddingTop) || 0;
    const top = pad + (this.error.line - 1) * this.lineHeight() - this.input.scrollTop;
    const room = this.note.clientHeight - this.noteText.offsetHeight;
    this.noteText.style.top = `${Math.max(0, Math.min(top, room))}px`;
  }

  // mark shows message at line (and column, from 1; 0 for none) of the
  // text: the line is marked, the message shown beside it and below the
  // editor, and the textarea described by it and marked invalid. before,
  // if given, leads the message below the editor ("Not saved.").
  mark(line, column, message, before = '') {
    const lines = this.input.value.split('\n').length;
    const at = Math.min(Math.max(line, 1), lines);
    this.error = { line: at, column, message };
    const why = plainWords(message);
    this.message.replaceChildren(
      before && h('strong', { class: 'ce-refused', text: `${before} ` }),
      h('strong', { text: column > 0 ? `Line ${at}, column ${column}: ` : `Line ${at}: ` }),
      message,
      why && h('span', { class: 'ce-why', text: ` (${why})` }),
      ' ',
      h('button', { type: 'button', class: 'small quiet', text: `Go to line ${at}`, onclick: () => this.goTo(at, column) }),
    );
    this.message.hidden = false;
    this.message.dataset.line = String(at);
    this.input.setAttribute('aria-invalid', 'true');
    this.describe(true);
    this.refresh();
    this.reveal(at);
  }

  // clear removes the mark.
  clear() {
    if (!this.error && this.message.hidden) return;
    this.error = null;
    this.message.hidden = true;
    this.message.replaceChildren();
    delete this.message.dataset.line;
    this.input.removeAttribute('aria-invalid');
    this.describe(false);
    this.refresh();
  }

  describe(on) {
    const ids = (this.input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== this.message.id);
    if (on) ids.push(this.message.id);
    if (ids.length) this.input.setAttribute('aria-describedby', ids.join(' '));
    else this.input.removeAttribute('aria-describedby');
  }

  // lineHeight is the height of one line of the text in pixels.
  lineHeight() {
    return parseFloat(getComputedStyle(this.input).lineHeight) || 20;
  }

  // reveal scrolls the text so that line shows.
  reveal(line) {
    const lh = this.lineHeight();
    const top = (line - 1) * lh;
    if (top < this.input.scrollTop || top + lh > this.input.scrollTop + this.input.clientHeight) {
      this.input.scrollTop = Math.max(0, top - this.input.clientHeight / 2);
    }
    this.sync();
  }

  // goTo puts the caret at line and column (from 1) and the focus in the
  // text.
  goTo(line, column = 1) {
    const lines = this.input.value.split('\n');
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    const len = (lines[line - 1] || '').length;
    pos += Math.min(Math.max(column, 1) - 1, len);
    this.input.focus();
    this.input.setSelectionRange(pos, pos);
    this.reveal(line);
  }
}
