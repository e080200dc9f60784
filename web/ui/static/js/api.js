// api.js calls knot's REST API with the session cookie. Requests that change
// something carry the X-CSRF-Token header with the value of the __KNOT_CSRF
// cookie, as the server requires of cookie-authenticated requests.

// ApiError is a refused or failed request; message is the server's own and
// data the whole answer, if it was JSON.
export class ApiError extends Error {
  constructor(status, message, data = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.data = data;
  }
}

// cookie returns the value of the cookie name, or ''.
export function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return '';
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

// loginURL returns the login page that comes back to this page.
export function loginURL() {
  return '/login?redirect=' + encodeURIComponent(location.pathname + location.search);
}

// api sends method path with body (a value to send as JSON, or undefined)
// and returns the decoded answer. A refusal throws ApiError with the
// server's message. When the session has ended, the browser goes to the
// login page. options.credentials 'omit' sends no cookie.
export async function api(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: options.credentials || 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (!safeMethods.has(method) && init.credentials !== 'omit') {
    headers['X-CSRF-Token'] = cookie('__KNOT_CSRF');
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `The server cannot be reached (${err.message}).`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) {
    return data;
  }
  const message = (data && typeof data.error === 'string' && data.error) || `${res.status} ${res.statusText}`.trim();
  if (res.status === 401 && document.body.dataset.page !== 'login') {
    location.assign(loginURL());
  }
  throw new ApiError(res.status, message, data);
}

// path builds an API path from parts, escaping each.
export function path(...parts) {
  return '/api/' + parts.map((p) => encodeURIComponent(p)).join('/');
}

// wsURL returns the websocket URL of the API path p on this server.
export function wsURL(p) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${p}`;
}
