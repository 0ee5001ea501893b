import type { Logger } from '@iot-meter/common';

/** Runs `pass` every `intervalMs`, never two at once, until the returned stop is called. */
export function runEvery(
  intervalMs: number,
  pass: () => Promise<unknown>,
  logger: Logger,
): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = pass()
      .catch((err: unknown) => logger.warn({ err }, 'pass failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, intervalMs);
      });
  };
  timer = setTimeout(tick, 0);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
