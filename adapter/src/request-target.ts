/** `scheme://authority` at the start of an absolute-form request target (RFC 9112, 3.2.2). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * A request target in origin form (`/path?query`), and whether it came in absolute form
 * (`http://host/path?query`), which a proxy may send and a server must accept. Routing looks only at the
 * origin form; any other target (`*`) is left as it is.
 */
export function originForm(target: string): { path: string; absolute: boolean } {
  const authority = ABSOLUTE_FORM.exec(target);
  if (!authority) return { path: target, absolute: false };
  const rest = target.slice(authority[0].length);
  return { path: rest.startsWith('/') ? rest : `/${rest}`, absolute: true };
}
