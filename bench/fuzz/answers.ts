/**
 * Reads what a server sent back on one connection: nothing, or one or more HTTP/1.x responses, each with a
 * status line, header fields and a body framed by its content-length, by chunked coding or by the close.
 */

export interface ParsedAnswers {
  statuses: number[];
  /** What breaks HTTP/1.1's response grammar, when something does. */
  problem?: string;
  /** The bytes end inside a response: only a problem when the server closed the connection there itself. */
  truncated?: boolean;
}

const STATUS_LINE = /^HTTP\/1\.[01] [1-5]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const FIELD_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * The answers to a request that may have been HEAD are read both ways (its first answer with no body, and with
 * the body its framing says): a server that could not parse the request line may have answered it either way.
 */
export function readAnswers(data: Buffer, mayBeHead: boolean): ParsedAnswers {
  const asOther = parseAnswers(data, false);
  if (!mayBeHead || (!asOther.problem && !asOther.truncated)) return asOther;
  const asHead = parseAnswers(data, true);
  return asHead.problem || asHead.truncated ? asOther : asHead;
}

/** HEAD: the first final answer has no body whatever its content-length says. */
export function parseAnswers(data: Buffer, head: boolean): ParsedAnswers {
  const statuses: number[] = [];
  let finals = 0;
  let at = 0;
  while (at < data.length) {
    const end = data.indexOf(HEAD_END, at);
    if (end === -1) return { statuses, truncated: true, ...grammarOfPartialHead(data.subarray(at)) };
    const lines = data.subarray(at, end).toString('latin1').split('\r\n');
    const status = checkHead(lines);
    if (typeof status === 'string') return { statuses, problem: status };
    statuses.push(status.code);
    at = end + HEAD_END.length;
    if (status.code === 101) return { statuses }; // the connection now speaks another protocol
    if (status.code < 200) continue; // interim: the final answer follows
    finals += 1;
    const noBody = (head && finals === 1) || status.code === 204 || status.code === 304;
    const body = noBody ? at : bodyEnd(data, at, status.fields);
    if (body === 'truncated') return { statuses, truncated: true };
    if (typeof body === 'string') return { statuses, problem: body };
    at = body;
  }
  return { statuses };
}

interface Head {
  code: number;
  fields: Map<string, string[]>;
}

function checkHead(lines: string[]): Head | string {
  const [statusLine, ...fieldLines] = lines;
  if (!statusLine || !STATUS_LINE.test(statusLine)) return `bad status line ${quote(statusLine ?? '')}`;
  const fields = new Map<string, string[]>();
  for (const line of fieldLines) {
    if (!FIELD_LINE.test(line)) return `bad header field ${quote(line)}`;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    fields.set(name, [...(fields.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return { code: Number(statusLine.slice(9, 12)), fields };
}

/** Where the body starting at AT ends; 'truncated' when the data ends first, or what is wrong with it. */
function bodyEnd(data: Buffer, at: number, fields: Map<string, string[]>): number | 'truncated' | string {
  const encoding = fields.get('transfer-encoding');
  const length = fields.get('content-length');
  if (encoding && length) return 'both transfer-encoding and content-length';
  if (encoding) {
    if (!/(^|,)\s*chunked$/i.test(encoding.join(','))) return `transfer-encoding ${encoding.join(',')}`;
    return chunkedEnd(data, at);
  }
  if (length) {
    const values = length.flatMap((value) => value.split(',').map((part) => part.trim()));
    if (!values.every((value) => /^\d+$/.test(value) && value === values[0]))
      return `content-length ${quote(length.join(', '))}`;
    const end = at + Number(values[0]);
    return end <= data.length ? end : 'truncated';
  }
  return data.length; // delimited by the close
}

function chunkedEnd(data: Buffer, from: number): number | 'truncated' | string {
  let at = from;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, at);
    if (lineEnd === -1) return 'truncated';
    const sizeLine = data.subarray(at, lineEnd).toString('latin1');
    const size = /^([0-9A-Fa-f]{1,15})(?:[ \t]*;.*)?$/.exec(sizeLine);
    if (!size) return `bad chunk size line ${quote(sizeLine)}`;
    const length = parseInt(size[1]!, 16);
    at = lineEnd + CRLF.length;
    if (length === 0) return trailersEnd(data, at);
    if (at + length + CRLF.length > data.length) return 'truncated';
    if (!data.subarray(at + length, at + length + CRLF.length).equals(CRLF))
      return 'chunk not followed by CRLF';
    at += length + CRLF.length;
  }
}

function trailersEnd(data: Buffer, from: number): number | 'truncated' | string {
  let at = from;
  for (;;) {
    const lineEnd = data.indexOf(CRLF, at);
    if (lineEnd === -1) return 'truncated';
    const line = data.subarray(at, lineEnd).toString('latin1');
    at = lineEnd + CRLF.length;
    if (line === '') return at;
    if (!FIELD_LINE.test(line)) return `bad trailer field ${quote(line)}`;
  }
}

/** A head cut short may still be checked as far as it goes: its complete lines must already be valid. */
function grammarOfPartialHead(partial: Buffer): { problem?: string } {
  const text = partial.toString('latin1');
  const prefix = 'HTTP/1.';
  if (!text.startsWith(prefix.slice(0, Math.min(text.length, prefix.length))))
    return { problem: `not an HTTP response: ${quote(text)}` };
  const complete = text.split('\r\n').slice(0, -1);
  if (complete.length === 0) return {};
  const status = checkHead(complete);
  return typeof status === 'string' ? { problem: status } : {};
}

/** Bytes as a short printable JSON string. */
export function quote(text: string, max = 120): string {
  const shown = text.length > max ? `${text.slice(0, max)}…(${text.length} bytes)` : text;
  return JSON.stringify(shown);
}
