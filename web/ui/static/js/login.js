// login.js logs in, or creates the first user while none exists.
import { api } from './api.js';
import { $, showError, hideError, ready, showQR, showTOTPSecret } from './dom.js';

function field(form, name) {
  return form.elements.namedItem(name);
}

// proceed goes on after logging in. The login page, now with a session,
// sends the user to the page they came for if they may see it, and to the
// first page they may see otherwise.
function proceed(form) {
  const target = form.dataset.redirect;
  location.assign(target ? '/login?redirect=' + encodeURIComponent(target) : '/');
}

async function login(email, password, totpCode = '') {
  await api('POST', '/api/auth/web', { email, password, totp_code: totpCode });
}

// handle runs fn when form is submitted, and goes on unless fn returns
// false (the form asks for more, and says what).
function handle(form, fn) {
  const error = $('.error', form);
  const button = $('button[type="submit"]', form);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    hideError(error);
    button.disabled = true;
    try {
      if (await fn() === false) {
        button.disabled = false;
        return;
      }
      proceed(form);
    } catch (err) {
      showError(error, err);
      button.disabled = false;
    }
  });
}

// showTOTP asks for the two-factor code.
function showTOTP() {
  $('#totp-code').hidden = false;
}

// showEnrolment shows the secret of a new two-factor enrolment, as text and
// as the server's QR code, and asks for the code of the app it was added to.
function showEnrolment(data) {
  showQR($('#totp-qr'), data.totp_qr);
  showTOTPSecret($('#totp-secret'), data.totp_secret);
  $('#totp-url').textContent = data.totp_url || '';
  $('#totp-enrol').hidden = false;
  showTOTP();
  field(loginForm, 'totp_code').value = '';
  field(loginForm, 'totp_code').focus();
}

const loginForm = $('#login-form');
if (loginForm) {
  api('GET', '/api/auth/using-totp').then((r) => r && r.using_totp && showTOTP(), () => {});
  handle(loginForm, async () => {
    const code = field(loginForm, 'totp_code').value.trim();
    if (code === '' && !$('#totp-enrol').hidden) {
      // A login without a code makes a new secret, which an app that has
      // just added the one shown would not match.
      field(loginForm, 'totp_code').focus();
      throw new Error('Enter the code your authenticator app shows for the secret above.');
    }
    try {
      await login(field(loginForm, 'email').value.trim(), field(loginForm, 'password').value, code);
    } catch (err) {
      if (err.data && err.data.totp_secret) {
        // The enrolment's notice says what to do; the API's message,
        // which names its JSON fields, is for API clients.
        showEnrolment(err.data);
        return false;
      }
      if (code !== '') {
        field(loginForm, 'totp_code').select();
      } else {
        field(loginForm, 'password').select();
      }
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
    try {
      await login(email, password);
    } catch (err) {
      if (!(err.data && err.data.totp_secret)) throw err;
      // Two-factor login is on: the login form, with what was typed, sets
      // up the authenticator and logs in.
      createdWithTOTP(username, email, password, err.data);
      return false;
    }
  });
}

// createdWithTOTP goes on from the first user's form to the login form,
// which says that the account is there and shows its two-factor
// enrolment: the login needs a code of an authenticator app.
function createdWithTOTP(username, email, password, enrolment) {
  setupForm.hidden = true;
  loginForm.hidden = false;
  document.title = 'Log in · knot';
  field(loginForm, 'email').value = email;
  field(loginForm, 'password').value = password;
  const created = $('#created');
  created.textContent = `The account ${username} is created, and you are not logged in yet: two-factor login is on at this server, so your first login sets up an authenticator app.`;
  created.hidden = false;
  showEnrolment(enrolment);
}

ready();
