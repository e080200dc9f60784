// login.js logs in, or creates the first user while none exists.
import { api } from './api.js';
import { $, showError, hideError, ready } from './dom.js';

function field(form, name) {
  return form.elements.namedItem(name);
}

function proceed(form) {
  location.assign(form.dataset.redirect || '/');
}

async function login(email, password) {
  await api('POST', '/api/auth/web', { email, password });
}

function handle(form, fn) {
  const error = $('.error', form);
  const button = $('button[type="submit"]', form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    hideError(error);
    button.disabled = true;
    try {
      await fn();
      proceed(form);
    } catch (err) {
      showError(error, err);
      button.disabled = false;
    }
  });
}

const loginForm = $('#login-form');
if (loginForm) {
  handle(loginForm, async () => {
    try {
      await login(field(loginForm, 'email').value.trim(), field(loginForm, 'password').value);
    } catch (err) {
      field(loginForm, 'password').select();
      throw err;
    }
  });
}

const setupForm = $('#setup-form');
if (setupForm) {
  handle(setupForm, async () => {
    const username = field(setupForm, 'username').value.trim();
    const email = field(setupForm, 'email').value.trim();
    const password = field(setupForm, 'password').value;
    if (password !== field(setupForm, 'password2').value) {
      throw new Error('The two passwords differ.');
    }
    // The first user needs no credentials; a stale cookie would be refused.
    await api('POST', '/api/users', { username, email, password }, { credentials: 'omit' });
    await login(email, password);
  });
}

ready();
