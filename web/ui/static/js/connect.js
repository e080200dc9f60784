// connect.js is the page of the CLI's browser login: Approve asks the
// server for a one-time code and sends the browser on to the CLI with it;
// Deny sends the browser to the CLI with a refusal.
import './shell.js';
import { api } from './api.js';
import { $, showError, hideError, ready } from './dom.js';

const box = $('#connect');
const { port, state, challenge, host } = box.dataset;
const approve = $('#connect-approve');
const deny = $('#connect-deny');
const error = $('#page-error');
const done = $('#connect-done');

// finish disables the buttons and tells what happens next.
function finish(text) {
  approve.disabled = true;
  deny.disabled = true;
  done.textContent = text;
  done.hidden = false;
}

approve.addEventListener('click', async () => {
  approve.disabled = true;
  hideError(error);
  try {
    const res = await api('POST', '/api/connect/approve', { port: Number(port), state, challenge, host });
    finish('Approved: the CLI takes it from here. You can close this tab once it says so.');
    location.assign(res.redirect);
  } catch (err) {
    showError(error, err);
    approve.disabled = false;
  }
});

deny.addEventListener('click', () => {
  finish('Denied: the CLI gets no token.');
  const q = new URLSearchParams({ error: 'access_denied', state });
  location.assign(`http://127.0.0.1:${Number(port)}/callback?${q}`);
});

ready();
