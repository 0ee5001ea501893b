export type WaitForOptions = {
  /** How long to keep asking before giving up. */
  timeoutMs?: number;
  /** The pause between one answer and the next question. */
  intervalMs?: number;
};

/**
 * Asks `condition` every `intervalMs` until it answers true; rejects naming `what` after `timeoutMs`.
 * A condition that throws ends the wait at once with its error (a process that exited, say).
 * For harnesses and benchmarks; a test body waits with `expect.poll` or `vi.waitFor`.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  { timeoutMs = 30_000, intervalMs = 100 }: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const timedOut = () =>
    new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
  for (;;) {
    if (await answerBefore(condition, deadline)) return;
    if (Date.now() >= deadline) throw timedOut();
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// setTimeout fires at once past this delay, so a longer (or endless) wait is not raced.
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** The condition's answer, or false once the deadline passes first (a request that hangs, say). */
async function answerBefore(condition: () => boolean | Promise<boolean>, deadline: number): Promise<boolean> {
  const left = deadline - Date.now();
  const answer = Promise.resolve().then(condition);
  if (left > LONGEST_TIMER_MS) return answer;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, left));
  });
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}
