/** The command line itself is wrong (a missing argument, an unknown flag): exit code 64. */
export class UsageError extends Error {}
