// ports.js makes the links to a running space's web apps, the http_ports
// of its template, through the server's proxy.
import { h } from './dom.js';

// webPortLinks returns a link per web port of the space s, opening in a
// new tab.
export function webPortLinks(s) {
  return (s.http_ports || []).map((p) => h('a', {
    href: `/proxy/spaces/${encodeURIComponent(s.space_id)}/ports/${p.port}/`,
    target: '_blank', rel: 'noopener', text: `${p.name} (${p.port})`,
    title: `Open port ${p.port} of ${s.name} in a new tab`,
  }));
}
