/**
 * yargs reads a value that begins with '-' as flags: `--password -abc` fails with "Unknown arguments: a, b, c".
 * When an unknown flag is a letter of a `-word` right after a `--flag` with no `=VALUE` (other letters may be
 * short flags that exist), this says how to give it as the value, without repeating it (it may be a secret).
 */
export function dashValueHint(message: string, argv: string[]): string | undefined {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message)?.[1]?.split(', ');
  if (!unknown) return undefined;
  for (let at = 0; at + 1 < argv.length; at++) {
    const flag = /^--([^=]+)$/.exec(argv[at]!)?.[1];
    // A negative number is a value already; `--x` is more likely a mistyped flag than a value.
    const word = /^-([^-\d][^=]*)/.exec(argv[at + 1]!)?.[1];
    if (flag && word && [...word].some((letter) => unknown.includes(letter))) {
      return `if the word after --${flag} is its value, write it as --${flag}=VALUE`;
    }
  }
  return undefined;
}
