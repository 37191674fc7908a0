import { FUNCTION_NAME_PATTERN } from '../spec/function-spec.js';

export interface FunctionRoute {
  name: string;
  /** The path the app sees: the /fn/NAME prefix removed, query kept. */
  path: string;
}

const PATH_PREFIX = new RegExp(`^/fn/(${FUNCTION_NAME_PATTERN})(/[^]*)?$`);
const HOST_SUFFIX = new RegExp(`^(${FUNCTION_NAME_PATTERN})\\.localhost(?::\\d+)?$`);

/** Finds the function a gateway request is for: `/fn/NAME/...` or `Host: NAME.localhost`. */
export function routeRequest(url: string, host: string | undefined): FunctionRoute | undefined {
  const hostMatch = host ? HOST_SUFFIX.exec(host.toLowerCase()) : null;
  if (hostMatch?.[1]) return { name: hostMatch[1], path: url || '/' };
  const [pathname = '', query] = splitQuery(url);
  const pathMatch = PATH_PREFIX.exec(pathname);
  if (!pathMatch?.[1]) return undefined;
  const rest = pathMatch[2] || '/';
  return { name: pathMatch[1], path: query === undefined ? rest : `${rest}?${query}` };
}

function splitQuery(url: string): [string, string | undefined] {
  const at = url.indexOf('?');
  return at === -1 ? [url, undefined] : [url.slice(0, at), url.slice(at + 1)];
}
