/**
 * Requests past their function's timeout. HAProxy's `timeout server` ends only a request whose app side is
 * idle that long: an app that drips its answer, a client that uploads a byte at a time or never reads the
 * answer, each keeps a request (and the instance's concurrency slot) for as long as bytes move. The runner
 * finds them in `show sess` and ends them. A request wholly sent that waits for the app's answer is HAProxy's
 * own to end: its timeout counts from when the app has it (not from the edge's queue) and answers 504.
 */

/** One line of `show sess`: a request in a worker, with its age in whole seconds (rounded either way). */
export interface EdgeStream {
  id: string;
  backend: string;
  /** Undefined while it waits in the backend's queue. */
  server: string | undefined;
  /**
   * Since its connection's accept, or the end of the request before it on a kept-alive connection: the idle
   * time in between counts, so this is an upper bound of the request's own age.
   */
  ageSeconds: number;
  /** The worker's count of `show sess` commands when the stream was made (see EpochMarks). */
  epoch: number;
}

export function parseStreams(answer: string): EdgeStream[] {
  const streams: EdgeStream[] = [];
  for (const line of answer.split('\n')) {
    const id = /^(0x[0-9a-f]+):/.exec(line)?.[1];
    const backend = / be=(\S+)/.exec(line)?.[1];
    const server = / srv=(\S+)/.exec(line)?.[1];
    const age = / age=(\S+)/.exec(line)?.[1];
    const epoch = / epoch=(\S+)/.exec(line)?.[1];
    if (!id || !backend || !server || !age || !epoch) continue;
    streams.push({
      id,
      backend,
      server: server === '<none>' ? undefined : server,
      ageSeconds: seconds(age),
      epoch: Number(epoch),
    });
  }
  return streams;
}

/** HAProxy's human time: `3s`, `1m3s`, `2h0m`, `1d3h`. */
function seconds(text: string): number {
  const unit: Record<string, number> = { d: 86_400, h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const [, count, letter] of text.matchAll(/(\d+)([dhms])/g)) total += Number(count) * unit[letter!]!;
  return total;
}

/**
 * Streams that may be past `timeoutMs` by their rounded age, in a backend, sent to an instance. Not one sent to
 * the activator: it waits for a wake or a start, bounded by the activator, and the activator sends it back in
 * as a new request, whose time starts then.
 */
export function mayBeOverdue(
  streams: EdgeStream[],
  timeouts: Map<string, number>,
  activator: string,
): EdgeStream[] {
  return streams.filter((stream) => {
    const timeoutMs = timeouts.get(stream.backend);
    if (timeoutMs === undefined || stream.server === undefined || stream.server === activator) return false;
    return stream.ageSeconds + 1 >= timeoutMs / 1000;
  });
}

/**
 * What `show sess ID` says of one request: when the edge took it, whether it became a tunnel, and whether it
 * was sent whole and waits for the app's answer (the server's read timeout is running).
 */
export interface StreamDetail {
  acceptedAt: number;
  tunnel: boolean;
  awaitingAnswer: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function parseStreamDetail(answer: string): StreamDetail | undefined {
  // [27/Nov/2026:13:33:07.332265], in the edge's local time (the runner's: they share the environment).
  const date = /^0x[0-9a-f]+: \[(\d+)\/(\w{3})\/(\d+):(\d+):(\d+):(\d+)\.(\d+)\]/.exec(answer);
  if (!date) return undefined;
  const [, day, month, year, hours, minutes, secs, micros] = date;
  const acceptedAt = new Date(
    Number(year),
    MONTHS.indexOf(month!),
    Number(day),
    Number(hours),
    Number(minutes),
    Number(secs),
    Math.floor(Number(micros) / 1000),
  ).getTime();
  return {
    acceptedAt,
    // An upgraded request (a WebSocket) is bounded by the tunnel timeout, not the function's.
    tunnel: /\b(req|rsp)\.st=MSG_TUNNEL\b/.test(answer),
    awaitingAnswer: /\breq\.st=MSG_DONE\b/.test(answer) && /\brsp\.st=MSG_RPBEFORE\b/.test(answer),
  };
}

/**
 * When a worker's streams were made, bounded from below by the runner's own `show sess`: each one advances
 * the worker's epoch, and a stream takes the epoch current when it is made (HAProxy 2.6's `stream_epoch`). A
 * listing shows the epoch of the listing's own stream, the highest listed; a stream with a higher epoch was
 * made after that listing was sent. On a kept-alive connection a stream is made for each request, while its
 * accept date is the end of the request before: this bound keeps the idle time in between from counting
 * against the function's timeout.
 */
export class EpochMarks {
  private readonly marks: Array<{ epoch: number; at: number }> = [];

  /** A listing sent at `at` answered with these streams. */
  note(streams: EdgeStream[], at: number): void {
    if (streams.length === 0) return;
    this.marks.push({ epoch: Math.max(...streams.map((stream) => stream.epoch)), at });
  }

  /** The latest time the stream is known to have been made after, if any listing came before it. */
  madeAfter(stream: EdgeStream): number | undefined {
    for (let i = this.marks.length - 1; i >= 0; i--) {
      if (this.marks[i]!.epoch < stream.epoch) return this.marks[i]!.at;
    }
    return undefined;
  }

  /** Forgets the marks older than `before`, but the latest. */
  prune(before: number): void {
    while (this.marks.length > 1 && this.marks[0]!.at < before) this.marks.shift();
  }
}
