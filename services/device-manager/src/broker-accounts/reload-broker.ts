import { readdir, readFile } from 'node:fs/promises';

/**
 * Sends SIGHUP to the broker, which rereads its password and ACL files. The broker is found by its
 * pid file (the local stack) or, in the chart's broker pod (which shares its process namespace with
 * the sync), as the process named `processName`.
 */
export function reloadBrokerBySignal(target: { pidFile: string } | { processName: string }) {
  return async (): Promise<void> => {
    const pid = 'pidFile' in target ? await pidFromFile(target.pidFile) : await pidByName(target.processName);
    process.kill(pid, 'SIGHUP');
  };
}

async function pidFromFile(path: string): Promise<number> {
  const pid = Number((await readFile(path, 'utf8')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no broker pid in ${path}`);
  return pid;
}

async function pidByName(name: string): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) return Number(entry);
  }
  throw new Error(`no process named ${name}`);
}
