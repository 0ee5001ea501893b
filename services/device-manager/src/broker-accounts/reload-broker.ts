import { readdir, readFile } from 'node:fs/promises';

/**
 * Sends SIGHUP to the broker, which rereads its password and ACL files. The broker is found by its
 * pid file (the local stack) or, in the chart's broker pod (which shares its process namespace with
 * the sync), as the process named `processName`.
 */
export function reloadBrokerBySignal(
  target: { pidFile: string } | { processName: string },
  name = 'mosquitto',
) {
  return async (): Promise<void> => {
    const pid = 'pidFile' in target ? await pidFromFile(target.pidFile) : await pidByName(target.processName);
    // A stale pid file may name a process that reused the pid: SIGHUP would end it, not reload.
    if ((await commandName(pid)) !== ('processName' in target ? target.processName : name)) {
      throw new Error(`process ${pid} is not the broker`);
    }
    process.kill(pid, 'SIGHUP');
  };
}

const commandName = async (pid: number) =>
  (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();

async function pidFromFile(path: string): Promise<number> {
  const pid = Number((await readFile(path, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no broker pid in ${path}`);
  return pid;
}

async function pidByName(name: string): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if ((await commandName(Number(entry))) === name) return Number(entry);
  }
  throw new Error(`no process named ${name}`);
}
