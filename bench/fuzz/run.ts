/** Sends fuzz cases on many connections at once and counts what came back. */
import { quote } from './answers.js';
import { fuzzCase, type FuzzCase, type Target } from './cases.js';
import { exchange, type Address, type Exchange, type ExchangeTimings } from './exchange.js';

export interface FuzzTargets {
  edge: Address;
  adapter: Address;
  /** The function the edge cases are routed to. */
  fn: string;
}

export interface FuzzOptions {
  seed: number;
  count: number;
  concurrency: number;
  /** The index of the first case sent (default 0): a range of a seed's cases can be sent again. */
  first?: number;
  timings?: ExchangeTimings;
  onProgress?: (done: number) => void;
}

export interface TargetTally {
  requests: number;
  /** Answers by status class: '2xx', '4xx'…; a connection may carry more than one. */
  statuses: Record<string, number>;
  closedUnanswered: number;
  /** Of those, requests framed well enough that the server should have answered without the client's FIN. */
  wellFramedUnanswered: number;
  malformed: number;
  stalled: number;
  refused: number;
}

export interface Example {
  seed: number;
  index: number;
  target: Target;
  family: string;
  request: string;
  answer: string;
  why: string;
}

export interface FuzzTally {
  targets: Record<Target, TargetTally>;
  /** Failures: malformed answers, stalled and refused connections. */
  examples: Example[];
  /** Not failures, but worth a look: well-framed requests closed without an answer. */
  unanswered: Example[];
  durationMs: number;
}

/** Problems kept as examples, per kind (malformed, stalled, refused, unanswered) and target. */
const EXAMPLES_PER_KIND = 5;

export async function runFuzz(targets: FuzzTargets, options: FuzzOptions): Promise<FuzzTally> {
  const tally: FuzzTally = {
    targets: { edge: emptyTally(), adapter: emptyTally() },
    examples: [],
    unanswered: [],
    durationMs: 0,
  };
  const started = performance.now();
  const first = options.first ?? 0;
  let next = first;
  let done = 0;
  const worker = async () => {
    while (next < first + options.count) {
      const fuzz = fuzzCase(options.seed, next++, targets.fn);
      const result = await send(fuzz, targets[fuzz.target], options.timings);
      record(tally, fuzz, result, options.seed);
      if (++done % 1000 === 0) options.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, worker));
  tally.durationMs = performance.now() - started;
  return tally;
}

/** One case; a connection this host could not make for want of a local port is tried again. */
async function send(fuzz: FuzzCase, to: Address, timings?: ExchangeTimings): Promise<Exchange> {
  for (let attempt = 0; ; attempt++) {
    const result = await exchange(to, fuzz.bytes, { complete: fuzz.complete, head: fuzz.head, timings });
    if (result.connected || result.error !== 'EADDRNOTAVAIL' || attempt === 100) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function emptyTally(): TargetTally {
  return {
    requests: 0,
    statuses: {},
    closedUnanswered: 0,
    wellFramedUnanswered: 0,
    malformed: 0,
    stalled: 0,
    refused: 0,
  };
}

function record(tally: FuzzTally, fuzz: FuzzCase, result: Exchange, seed: number): void {
  const counts = tally.targets[fuzz.target];
  counts.requests += 1;
  for (const status of result.answers.statuses) {
    const group = `${Math.floor(status / 100)}xx`;
    counts.statuses[group] = (counts.statuses[group] ?? 0) + 1;
  }
  const why = problemOf(result);
  if (why) {
    counts[why.kind] += 1;
    keepExample(tally.examples, why.kind, example(fuzz, result, seed, `${why.kind}: ${why.detail}`));
  } else if (result.answers.statuses.length === 0) {
    counts.closedUnanswered += 1;
    if (fuzz.complete) {
      counts.wellFramedUnanswered += 1;
      keepExample(
        tally.unanswered,
        'unanswered',
        example(fuzz, result, seed, `unanswered (${result.error ?? result.end})`),
      );
    }
  }
}

function example(fuzz: FuzzCase, result: Exchange, seed: number, why: string): Example {
  return {
    seed,
    index: fuzz.index,
    target: fuzz.target,
    family: fuzz.family,
    request: quote(fuzz.bytes.toString('latin1'), 300),
    answer: quote(result.data.toString('latin1'), 600),
    why,
  };
}

function keepExample(examples: Example[], kind: string, candidate: Example): void {
  const alike = examples.filter((kept) => kept.why.startsWith(kind) && kept.target === candidate.target);
  if (alike.length < EXAMPLES_PER_KIND) examples.push(candidate);
}

/**
 * What is wrong with an exchange, if anything: bytes that are not HTTP/1.1 answers, an answer cut short by
 * the server's own close, a connection that neither answered nor closed, or one that could not be made.
 */
export function problemOf(
  result: Exchange,
): { kind: 'malformed' | 'stalled' | 'refused'; detail: string } | undefined {
  if (!result.connected) return { kind: 'refused', detail: result.error ?? 'no connection' };
  if (result.answers.problem) return { kind: 'malformed', detail: result.answers.problem };
  if (result.end === 'stalled')
    return { kind: 'stalled', detail: `no close after ${result.data.length} bytes` };
  if (result.answers.truncated) {
    return { kind: 'malformed', detail: `answer cut short (${result.error ?? 'closed by the server'})` };
  }
  return undefined;
}
