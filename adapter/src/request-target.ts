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

/**
 * Whether a path outside `/_/` as written is `/_/…` once percent-decoded, its slashes merged and its dot
 * segments resolved, as many apps read it (`//_/x`, `/%5F/x`, `/a/../_/x`).
 */
export function disguisedReserved(path: string, prefix: string): boolean {
  const raw = path.split('?')[0]!;
  if (raw.startsWith(prefix)) return false;
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // a malformed escape: judged as written
  }
  const segments: string[] = [];
  for (const segment of decoded.replace(/\\/g, '/').split('/').slice(1)) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}/`.startsWith(prefix);
}
