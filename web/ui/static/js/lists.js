// lists.js pages, searches and sorts a list page on the server: the page
// asks the API for one page (?q=&sort=&limit=&offset= and the page's
// filters), shows "1–50 of 10,000" with First, Previous, Next and Last,
// sorts by the column headers that name a sort key (th[data-sort]), and
// keeps what the user chose in the page's address, so a reload or a shared
// link shows the same page. The page refreshes itself every few seconds
// while it is shown (autoRefresh), sending the ETag of the list it holds:
// the server answers 304 without a body while nothing changed.
import { api, ApiError, loginURL } from './api.js';
import { $, $$, h, poll } from './dom.js';

// getIfChanged GETs path, sending etag as If-None-Match; it returns
// { data, etag }, or null when the server answers 304 Not Modified.
export async function getIfChanged(path, etag) {
  const headers = { Accept: 'application/json' };
  if (etag) headers['If-None-Match'] = etag;
  let res;
  try {
    res = await fetch(path, { headers, credentials: 'same-origin', cache: 'no-store' });
  } catch (err) {
    throw new ApiError(0, `The server cannot be reached (${err.message}).`);
  }
  if (res.status === 304) return null;
  if (!res.ok) {
    if (res.status === 401) location.assign(loginURL());
    return { data: await api('GET', path), etag: '' }; // throws the server's message
  }
  const total = Number.parseInt(res.headers.get('X-Total-Count') || '', 10);
  return { data: await res.json(), etag: res.headers.get('ETag') || '', total };
}

// Related is a list a page needs beside its own, such as the groups whose
// names the templates page shows: fetch gets it again only when it changed
// since the last fetch (it sends the ETag of the one it holds), and says
// whether it did. data is the last answer.
export class Related {
  constructor(path) {
    this.path = path;
    this.etag = '';
    this.data = null;
  }

  async fetch() {
    const got = await getIfChanged(this.path, this.etag);
    if (!got) return false;
    this.etag = got.etag;
    this.data = got.data;
    return true;
  }
}

// refreshMs is how often a list page looks for changes while it is shown.
export const refreshMs = 3000;

const fmt = new Intl.NumberFormat();

// countOf says how many things there are: "1 space", "10,000 users"; of
// the ones a search or a filter narrowed, "3 users that match".
export function countOf(n, one, many, narrowed = false) {
  return `${fmt.format(n)} ${n === 1 ? one : many}${narrowed ? ` that ${n === 1 ? 'matches' : 'match'}` : ''}`;
}

// spacesSaid says, on a row under its name, how many spaces there are and
// how many of them are deployed: "2 spaces, 1 deployed", the second part
// small, as in a spaces column.
export function spacesSaid(n, deployed) {
  const d = deployed > 0 && `${deployed} deployed`;
  return [h('span', { text: countOf(n, 'space', 'spaces') + (d ? ',' : '') }), d && ' ', d && h('span', { class: 'sub', text: d })];
}

// ListView is the server-side list of one page. options:
//   path: the API route; key: the field of the answer that holds the list
//   (null: the answer is the list, and X-Total-Count its total)
//   pageSize; sort: the default sort key; table: the table whose
//   th[data-sort] headers sort; search: the search input; pager: the
//   element to put the pager in; filters(): the page's filter parameters;
//   render(items, data): shows a page; etags: whether a refresh sends the
//   ETag of the list shown.
export class ListView {
  constructor(options) {
    Object.assign(this, { pageSize: 50, sort: 'name', filters: () => ({}), key: null, etags: true }, options);
    const url = new URLSearchParams(location.search);
    this.q = url.get('q') || '';
    this.sort = url.get('sort') || this.sort;
    this.offset = Math.max(0, Number.parseInt(url.get('offset') || '0', 10) || 0);
    this.etag = '';
    this.total = 0;
    if (this.search) this.bindSearch();
    if (this.table) this.bindSort();
    if (this.pager) this.buildPager();
  }

  // params returns the query of the current page.
  params() {
    const p = new URLSearchParams();
    if (this.q) p.set('q', this.q);
    if (this.sort) p.set('sort', this.sort);
    p.set('limit', String(this.pageSize));
    if (this.offset) p.set('offset', String(this.offset));
    for (const [k, v] of Object.entries(this.filters())) {
      if (v !== '' && v !== undefined && v !== null && v !== false) p.set(k, String(v));
    }
    return p;
  }

  // remember puts the user's choices in the page's address.
  remember() {
    const p = this.params();
    p.delete('limit');
    if (p.get('sort') === this.defaultSort) p.delete('sort');
    const qs = p.toString();
    history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
  }

  // load fetches the current page and renders it; with refresh, only when
  // the list changed since the last load.
  async load(refresh = false) {
    const got = await getIfChanged(`${this.path}?${this.params()}`, refresh && this.etags ? this.etag : '');
    if (!got) return false;
    this.etag = got.etag;
    const items = this.key ? got.data[this.key] || [] : got.data || [];
    if (this.key && typeof got.data.total === 'number') this.total = got.data.total;
    else this.total = Number.isNaN(got.total) ? items.length : got.total;
    if (items.length === 0 && this.offset > 0 && this.total > 0) {
      // The page emptied (records were deleted): show the last one.
      this.offset = this.lastOffset();
      return this.load();
    }
    this.render(items, got.data);
    this.updatePager(items.length);
    return true;
  }

  // autoRefresh refreshes the page every refreshMs while it is shown: the
  // list and the related lists (Related) are asked for with the ETags of
  // what the page holds, so what did not change is not sent again. When a
  // related list changed, apply() takes it in and the page is shown again.
  // ok() runs after each refresh that got an answer; a failure goes to
  // onError. A refusal (the user may not see the list) stops the refresh.
  autoRefresh({ related = [], apply = () => {}, ok = () => {} } = {}) {
    let refused = false;
    poll(async () => {
      if (refused) return;
      try {
        const changed = (await Promise.all(related.map((r) => r.fetch()))).some(Boolean);
        if (changed) apply();
        await this.load(!changed);
        ok();
      } catch (err) {
        refused = err.status === 401 || err.status === 403;
        if (this.onError) this.onError(err);
      }
    }, refreshMs);
  }

  // reset goes back to the first page and loads it.
  reset() {
    this.offset = 0;
    this.remember();
    return this.load();
  }

  bindSearch() {
    this.search.value = this.q;
    let timer = 0;
    this.search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.q = this.search.value.trim();
        this.reset().catch((err) => this.onError && this.onError(err));
      }, 250);
    });
  }

  bindSort() {
    this.defaultSort = this.sort;
    for (const th of $$('th[data-sort]', this.table)) {
      const key = th.dataset.sort;
      const label = th.textContent.trim();
      const button = h('button', { type: 'button', class: 'sort', text: label },
        h('span', { class: 'sort-mark', 'aria-hidden': 'true' }));
      button.addEventListener('click', () => {
        this.sort = this.sort === key ? `-${key}` : key;
        this.markSort();
        this.reset().catch((err) => this.onError && this.onError(err));
      });
      th.replaceChildren(button);
    }
    this.markSort();
  }

  markSort() {
    for (const th of $$('th[data-sort]', this.table)) {
      const key = th.dataset.sort;
      const dir = this.sort === key ? 'ascending' : this.sort === `-${key}` ? 'descending' : null;
      if (dir) th.setAttribute('aria-sort', dir);
      else th.removeAttribute('aria-sort');
    }
  }

  buildPager() {
    const button = (page, text, to) => {
      const b = h('button', { type: 'button', class: 'small', text, dataset: { page } });
      b.addEventListener('click', () => this.goTo(to()));
      return b;
    };
    this.first = button('first', 'First page', () => 0);
    this.prev = button('prev', 'Previous page', () => this.offset - this.pageSize);
    this.next = button('next', 'Next page', () => this.offset + this.pageSize);
    this.last = button('last', 'Last page', () => this.lastOffset());
    this.status = h('span', { class: 'pager-status', role: 'status' });
    this.pager.classList.add('pager');
    this.pager.replaceChildren(this.status, h('span', { class: 'pager-buttons' }, this.first, this.prev, this.next, this.last));
    // Until the first page is known there is nothing to page through.
    this.pager.hidden = true;
  }

  // lastOffset is the offset of the last page.
  lastOffset() {
    return Math.max(0, Math.floor((this.total - 1) / this.pageSize) * this.pageSize);
  }

  // goTo shows the page at offset, from its top: the pager is below the
  // list, so the new page would otherwise be seen from its end. The focus
  // stays where it is; a pager button that a page end disables hands it
  // to its neighbour, not to the page.
  goTo(offset) {
    this.offset = Math.max(0, offset);
    this.remember();
    const from = document.activeElement;
    this.load().then(() => {
      if (from && from.disabled && this.pager.contains(from)) {
        (from === this.first || from === this.prev ? this.next : this.prev).focus({ preventScroll: true });
      }
      const top = this.table || this.pager;
      if (top.getBoundingClientRect().top < 0) top.scrollIntoView({ block: 'start' });
    }).catch((err) => this.onError && this.onError(err));
  }

  updatePager(shown) {
    if (!this.pager) return;
    const from = shown ? this.offset + 1 : 0;
    const to = this.offset + shown;
    this.status.textContent = this.total === 0 ? 'None found'
      : `${fmt.format(from)}–${fmt.format(to)} of ${fmt.format(this.total)}`;
    this.first.disabled = this.prev.disabled = this.offset === 0;
    this.next.disabled = this.last.disabled = to >= this.total;
    this.pager.hidden = this.total <= this.pageSize && this.offset === 0 && !this.q;
  }
}
