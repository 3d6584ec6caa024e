/**
 * The built `ecash` command run as users run it (`node bin/ecash.js …`, built by `npm test`'s
 * pretest), for the tests of its long-running servers: start one, wait for the URL it prints,
 * follow a payment to its end.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface CliProcess {
  child: ChildProcess;
  /** What it has written so far. */
  stdout(): string;
  stderr(): string;
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn('node', ['bin/ecash.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Waits until `find` sees what it looks for in the process's output (20 s at most) and returns
 * it; fails with the process's stderr if it exits first or never prints it.
 */
export async function waitForOutput(p: CliProcess, find: (stdout: string, stderr: string) => string | undefined): Promise<string> {
  const until = Date.now() + 20_000;
  for (;;) {
    const found = find(p.stdout(), p.stderr());
    if (found !== undefined) return found;
    const done = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))]);
    if (done || Date.now() > until) {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      throw new Error(`ecash ${p.child.spawnargs.slice(2, 4).join(' ')} did not start: ${p.stderr()}`);
    }
  }
}

/** The URL `--json` servers print as their one document on stdout (`ecash bank serve`). */
export const jsonUrl = (stdout: string): string | undefined => {
  try {
    return (JSON.parse(stdout) as { url?: string }).url;
  } catch {
    return undefined; // not the whole document yet
  }
};

/** The cash-register API's base URL, which `ecash pos serve` prints on stderr. */
export const posApiUrl = (_stdout: string, stderr: string): string | undefined => /API at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stderr)?.[1];

/** Polls a payment (15 s at most) until it is approved, declined or cancelled; returns its last view. */
export async function untilFinal<T extends { state: string }>(view: () => Promise<T>): Promise<T> {
  const until = Date.now() + 15_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const v = await view();
    if (['approved', 'declined', 'cancelled'].includes(v.state) || Date.now() > until) return v;
  }
}
