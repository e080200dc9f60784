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
const relogin = $('#connect-relogin');

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
    // 409: a leaf that holds no session of this user at the origin, where
    // it makes the token; a new login here opens one.
    relogin.hidden = err.status !== 409;
  }
});

// Log in again ends this session and comes back to this page after the
// login.
relogin.addEventListener('click', async () => {
  relogin.disabled = true;
  try {
    await api('POST', '/api/auth/logout');
  } catch {
    // A session that has ended is logged out already.
  }
  location.assign('/login?redirect=' + encodeURIComponent(location.pathname + location.search));
});

deny.addEventListener('click', () => {
  finish('Denied: the CLI gets no token.');
  const q = new URLSearchParams({ error: 'access_denied', state });
  location.assign(`http://127.0.0.1:${Number(port)}/callback?${q}`);
});

ready();
