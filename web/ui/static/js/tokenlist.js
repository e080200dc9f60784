// tokenlist.js lists the user's own API tokens, creates them (showing the
// secret once) and deletes them: the list of the API tokens page and of the
// account page. The page holds #tokens, #empty, #notice and #token-form,
// which may have an expires_at select (days from now; '' for never).
import { api, path } from './api.js';
import { $, h, showError, hideError, confirmAction, setRows, timeEl, secretNotice } from './dom.js';
import { runAction, rowLabel, showFormError, clearFieldErrors } from './feedback.js';
import { ListView } from './lists.js';

// expiryOf returns the RFC 3339 time days days from now, or '' for none.
export function expiryOf(days) {
  if (!days) return '';
  return new Date(Date.now() + Number(days) * 86400 * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

// mountTokens wires the token list; errorSelector is where an error of the
// list shows, and onTotal (if any) is told how many tokens there are each
// time the list shows. It resolves, once the list is first shown, to a
// function that shows the list again.
export function mountTokens(errorSelector, onTotal) {
  const table = $('#tokens');
  const tbody = $('tbody', table);
  const listError = $(errorSelector);
  const form = $('#token-form');
  const formError = $('.error', form);
  const notice = $('#notice');

  const list = new ListView({
    path: '/api/tokens',
    sort: 'created',
    table,
    search: $('#tokens-search'),
    pager: $('#tokens-pager'),
    render: (tokens) => {
      $('#empty').hidden = list.total > 0 || list.q !== '';
      table.hidden = tokens.length === 0;
      setRows(tbody, tokens, (t) => t.token_id, row);
      if (onTotal && list.q === '') onTotal(list.total);
    },
    onError: (err) => showError(listError, err),
  });

  async function load() {
    try {
      await list.load();
      hideError(listError);
    } catch (err) {
      showError(listError, err);
    }
  }

  function row(t) {
    return h('tr', { dataset: { name: t.name } },
      h('td', { class: 'name', text: t.name }),
      h('td', { class: 'nowrap' }, timeEl(t.created_at)),
      h('td', { class: 'nowrap' }, t.expires_at ? [t.expired && 'expired ', timeEl(t.expires_at)] : 'never'),
      h('td', { class: 'actions-col' },
        h('button', { type: 'button', class: 'small danger', text: 'Delete', dataset: { action: 'delete' }, 'aria-label': rowLabel('Delete', t.name), onclick: () => remove(t) })));
  }

  async function remove(t) {
    if (!await confirmAction(`Delete the API token ${t.name}? Whatever uses it stops working.`)) return;
    await runAction({
      tbody,
      key: t.token_id,
      verb: 'delete',
      fn: () => api('DELETE', path('tokens', t.token_id)),
      refresh: load,
      failure: (err) => `Could not delete ${t.name}: ${err.message}`,
      success: `API token ${t.name} deleted.`,
    });
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    hideError(formError);
    clearFieldErrors(form);
    const name = form.elements.namedItem('name').value.trim();
    const expires = form.elements.namedItem('expires_at');
    const body = { name };
    if (expires) body.expires_at = expiryOf(expires.value);
    const button = $('button[type="submit"]', form);
    button.disabled = true;
    try {
      const created = await api('POST', '/api/tokens', body);
      secretNotice(notice, `Token ${name} created. Its secret is shown only now:`, created.token);
      form.elements.namedItem('name').value = '';
      await load();
    } catch (err) {
      showFormError(form, formError, err);
    } finally {
      button.disabled = false;
    }
  });

  list.autoRefresh({ ok: () => hideError(listError) });
  return load().then(() => load);
}
