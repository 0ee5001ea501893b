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
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
