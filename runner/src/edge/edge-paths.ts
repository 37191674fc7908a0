import { join } from 'node:path';

/** Where the edge keeps its files: all in the data directory's `edge/` folder, readable by the runner only. */
export interface EdgePaths {
  dir: string;
  config: string;
  pid: string;
  /** The master's CLI: reload, show proc. */
  master: string;
  /** The workers' Runtime API: servers, states, stats. */
  admin: string;
  /** The runner's own HTTP server: the activator, async events and Lambda's Invoke API. */
  runner: string;
  /** Where the activator sends held requests back in, to the function's backend (its maxconn and queue). */
  activated: string;
  /** The answer to a request HAProxy could not parse (no rule runs for it, so it is a fixed file). */
  badRequest: string;
  /** The Lua actions the configuration loads (hop-by-hop headers a Connection header names). */
  lua: string;
  /** Each function's backend: changed at run time, so a deploy or a removal needs no reload. */
  functions: string;
  /** Each backend's function, revision, timeouts and body limit: changed at run time too. */
  settings: string;
  log: string;
}

export function edgePaths(dataDir: string): EdgePaths {
  const dir = join(dataDir, 'edge');
  return {
    dir,
    config: join(dir, 'haproxy.cfg'),
    pid: join(dir, 'haproxy.pid'),
    master: join(dir, 'master.sock'),
    admin: join(dir, 'admin.sock'),
    runner: join(dir, 'runner.sock'),
    activated: join(dir, 'activated.sock'),
    badRequest: join(dir, 'bad-request.http'),
    lua: join(dir, 'hop-by-hop.lua'),
    functions: join(dir, 'functions.map'),
    settings: join(dir, 'settings.map'),
    log: join(dir, 'haproxy.log'),
  };
}
