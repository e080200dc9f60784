// tokens.js is the API tokens page: the user's own tokens (tokenlist.js).
import './shell.js';
import { ready } from './dom.js';
import { mountTokens } from './tokenlist.js';

mountTokens('#page-error').then(ready);
