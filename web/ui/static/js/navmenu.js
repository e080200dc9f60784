// navmenu.js opens and closes the header's menu on a narrow screen, where
// the navigation folds behind its button (knot.css). Escape closes it and
// gives the focus back to the button.
const button = document.getElementById('nav-toggle');
const menu = button && document.getElementById(button.getAttribute('aria-controls'));

function setOpen(open) {
  button.setAttribute('aria-expanded', String(open));
}

if (button && menu) {
  button.addEventListener('click', () => setOpen(button.getAttribute('aria-expanded') !== 'true'));
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || button.getAttribute('aria-expanded') !== 'true') return;
    setOpen(false);
    button.focus();
  });
  // A wider window shows the links anyway; the menu is closed when the
  // window narrows again. The width is knot.css's.
  matchMedia('(max-width: 72rem)').addEventListener('change', () => setOpen(false));
}
