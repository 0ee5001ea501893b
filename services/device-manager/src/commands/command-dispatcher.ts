import type { CommandMessage, Database, Logger } from '@iot-meter/common';
import type { Kysely } from 'kysely';
import type { CommandPublisher } from './command-publisher.js';
import {
  type CommandRow,
  findPendingCommandsToSend,
  markCommandSent,
  markCommandsTimedOut,
} from './commands.repository.js';

/** Publishes a stored command to its device and records it as sent; throws if the broker did not take it. */
export async function sendCommand(db: Kysely<Database>, publisher: CommandPublisher, command: CommandRow) {
  const message: CommandMessage = {
    v: 2,
    cmd_id: command.cmd_id,
    ts: new Date().toISOString(),
    cmd: command.cmd as CommandMessage['cmd'],
    params: command.params,
  };
  await publisher.publish(command.device_id, message);
  return markCommandSent(db, command.cmd_id);
}

/**
 * One round of the dispatcher: commands nobody answered in time become `timeout`, and pending
 * ones (the broker was unreachable when they were made) are sent again. Rows are claimed with
 * SKIP LOCKED, so several replicas never send the same command in the same round.
 */
export async function dispatchCommands(options: {
  db: Kysely<Database>;
  publisher: CommandPublisher;
  ackTimeoutSeconds: number;
  logger: Logger;
}): Promise<{ sent: number; timedOut: number }> {
  const { db, publisher, ackTimeoutSeconds, logger } = options;
  const timedOut = await markCommandsTimedOut(db, ackTimeoutSeconds);
  const sent = await db.transaction().execute(async (trx) => {
    const pending = await findPendingCommandsToSend(trx, 100);
    let count = 0;
    for (const command of pending) {
      try {
        await sendCommand(trx, publisher, command);
        count += 1;
      } catch (err) {
        logger.warn({ err, cmdId: command.cmd_id }, 'command still not sent');
        break; // the broker is away: the next round tries again
      }
    }
    return count;
  });
  return { sent, timedOut };
}

/** Runs `dispatchCommands` every `intervalMs` until stopped. */
export function startCommandDispatcher(
  options: Parameters<typeof dispatchCommands>[0] & { intervalMs: number },
) {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    dispatchCommands(options)
      .catch((err: unknown) => options.logger.warn({ err }, 'command dispatch failed'))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs);
  return () => clearInterval(timer);
}
