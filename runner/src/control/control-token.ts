import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether an Authorization header carries the control token. Both sides are hashed first and the digests
 * compared in constant time, so neither the length of a guess nor where it first differs shows in the time
 * the check takes.
 */
export function tokenCheck(
  token: string,
  equal: (a: Buffer, b: Buffer) => boolean = timingSafeEqual,
): (authorization: string | undefined) => boolean {
  const expected = digest(`Bearer ${token}`);
  return (authorization) => equal(digest(authorization ?? ''), expected);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
