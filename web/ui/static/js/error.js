// error.js is the script of the page that shows a refusal.
import './shell.js';
import { ready } from './dom.js';

ready();
