/**
 * Stopping and starting the machine's pcscd for the tests that need it gone or restarted, leaving
 * it afterwards as it was found: the same command line, in the background, logging where CI's
 * script logs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { PCSCD_SOCKET } from '../helpers/env.js';

const LOG = '/tmp/pcscd.log';

function pcscdPid(): number | undefined {
  try {
    return Number(execFileSync('pgrep', ['-x', 'pcscd'], { encoding: 'utf8' }).trim().split('\n')[0]);
  } catch {
    return undefined;
  }
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops pcscd; returns how to start it again exactly as it ran. */
export async function stopPcscd(): Promise<() => Promise<void>> {
  const pid = pcscdPid();
  if (pid === undefined) throw new Error('pcscd is not running');
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  process.kill(pid, 'SIGTERM');
  await until(() => pcscdPid() === undefined, 'pcscd has exited');
  return async () => {
    const log = openSync(LOG, 'a');
    spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] }).unref();
    await until(() => pcscdPid() !== undefined && existsSync(PCSCD_SOCKET), 'pcscd is back');
  };
}
