/**
 * A request as editable parts, written out byte for byte. Text is latin1 throughout: one character is one
 * byte, so invalid UTF-8 (any byte 0x80–0xff) goes on the wire exactly as generated.
 */
export interface RequestParts {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  body: string;
  /** Between the request line's three parts. */
  space: string;
  /** After the request line and every header line. */
  lineEnd: string;
  /** Between a header's name and its value. */
  colon: string;
}

export function request(
  method: string,
  target: string,
  headers: Array<[string, string]>,
  body = '',
): RequestParts {
  const withLength: Array<[string, string]> =
    body.length > 0 || method === 'POST' ? [...headers, ['Content-Length', String(body.length)]] : headers;
  return {
    method,
    target,
    version: 'HTTP/1.1',
    headers: withLength,
    body,
    space: ' ',
    lineEnd: '\r\n',
    colon: ': ',
  };
}

export function serialize(parts: RequestParts): Buffer {
  const { method, target, version, headers, body, space, lineEnd, colon } = parts;
  const head = [
    `${method}${space}${target}${space}${version}`,
    ...headers.map(([n, v]) => `${n}${colon}${v}`),
  ];
  return Buffer.from(`${head.join(lineEnd)}${lineEnd}${lineEnd}${body}`, 'latin1');
}

export function withoutHeader(parts: RequestParts, name: string): Array<[string, string]> {
  return parts.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
}

/** Invalid UTF-8: stray continuation bytes, overlong forms, surrogates, bytes UTF-8 never uses, a lone BOM. */
export const INVALID_UTF8 = [
  '\x80',
  '\xbf',
  '\xc0\xaf',
  '\xc1\xbf',
  '\xc3\x28',
  '\xe2\x28\xa1',
  '\xe0\x80\xaf',
  '\xed\xa0\x80',
  '\xed\xbf\xbf',
  '\xf0\x28\x8c\xbc',
  '\xf4\x90\x80\x80',
  '\xf8\x88\x80\x80\x80',
  '\xfe',
  '\xff',
  '\xef\xbb\xbf',
  '\xe2\x82',
] as const;

/** Bytes that break lines, fields or tokens. */
export const CONTROL_BYTES = [
  '\x00',
  '\x01',
  '\x07',
  '\x08',
  '\x0b',
  '\x0c',
  '\x1b',
  '\x7f',
  '\r',
  '\n',
  '\t',
];
