/** What the runner last saw of an instance's answers at the edge, and when. */
export interface AnswerRecord {
  answered: number;
  failed: number;
  seenAt: number;
  /** The sample that first saw the latest answer: no earlier than that answer. */
  lastAnswerAt: number;
}

/**
 * Whether an instance the edge reaches straight is a suspect of being stuck, by the edge's counts sampled at
 * `now`: a request to it failed since the last sample (timed out, or dropped unanswered), and it began no
 * answer for a whole timeout before that sample, so none since the failed request began. The same rule as the
 * adapter's for an app it stands in front of (adapter/src/app-liveness.ts), and a probe decides in the same
 * way. Each bound errs toward "alive": an answer is dated
 * at the sample that saw it, a failure at the sample before. Counts that went down (a reload starts the
 * edge's counts anew) are a fresh start.
 */
export function judgeAnswers(
  previous: AnswerRecord | undefined,
  counts: { answered: number; failed: number },
  now: number,
  timeoutMs: number,
): { record: AnswerRecord; suspect: boolean } {
  const { answered, failed } = counts;
  if (!previous || answered < previous.answered || failed < previous.failed) {
    return { record: { answered, failed, seenAt: now, lastAnswerAt: now }, suspect: false };
  }
  const lastAnswerAt = answered > previous.answered ? now : previous.lastAnswerAt;
  const suspect = failed > previous.failed && previous.seenAt - lastAnswerAt >= timeoutMs;
  return { record: { answered, failed, seenAt: now, lastAnswerAt }, suspect };
}
