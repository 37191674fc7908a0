/** What the edge says of one server: the sessions it has open, those queued for it, and all it has had. */
export interface ServerStats {
  sessions: number;
  queued: number;
  total: number;
  /** UP, DOWN, MAINT, DRAIN, NOLB… as HAProxy says it. */
  status: string;
  /** Its weight in the balancing now: 0 for one held (see server-form.ts). */
  weight: number;
  /** IP:PORT the server connects to (empty when the answer does not show it). */
  address: string;
  /** Answers the server began, whatever their status (the edge's own 502s and 504s are not among them). */
  answered: number;
  /** Requests whose answer failed: timed out, or the connection dropped before or during it. */
  failed: number;
}

export interface BackendStats {
  /** Requests waiting in the backend's queue for any server with room. */
  queued: number;
  servers: Map<string, ServerStats>;
}

/** Parses `show stat` (CSV with a `# ` header line) into backends by name; frontends are left out. */
export function parseShowStat(csv: string): Map<string, BackendStats> {
  const lines = csv.split('\n').filter((line) => line.trim() !== '');
  const header = (lines.shift() ?? '').replace(/^# /, '').split(',');
  const at = (name: string): number => header.indexOf(name);
  const [px, sv, qcur, scur, stot, status, weight, addr] = [
    'pxname',
    'svname',
    'qcur',
    'scur',
    'stot',
    'status',
    'weight',
    'addr',
  ].map(at);
  const answers = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other'].map(at);
  const eresp = at('eresp');
  const backends = new Map<string, BackendStats>();
  for (const line of lines) {
    const fields = line.split(',');
    const proxy = fields[px!] ?? '';
    const server = fields[sv!] ?? '';
    if (server === 'FRONTEND') continue;
    let backend = backends.get(proxy);
    if (!backend) {
      backend = { queued: 0, servers: new Map() };
      backends.set(proxy, backend);
    }
    const number = (index: number | undefined): number => Number(fields[index!] || 0);
    if (server === 'BACKEND') backend.queued = number(qcur);
    else
      backend.servers.set(server, {
        sessions: number(scur),
        queued: number(qcur),
        total: number(stot),
        status: fields[status!] ?? '',
        weight: number(weight),
        address: addr === -1 ? '' : (fields[addr!] ?? ''),
        answered: answers.reduce((sum, index) => sum + number(index), 0),
        failed: number(eresp),
      });
  }
  return backends;
}
