// shell.js wires what every page behind the login has: the log-out button
// and the header's menu.
import { api } from './api.js';
import './originbanner.js';
import './navmenu.js';

const logout = document.getElementById('logout');
if (logout) {
  logout.addEventListener('click', async () => {
    logout.disabled = true;
    try {
      await api('POST', '/api/auth/logout');
    } catch {
      // A session that has ended is logged out already.
    }
    location.assign('/login');
  });
}
