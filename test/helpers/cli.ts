/**
 * The built `ecash` command run as users run it (`node bin/ecash.js …`, built by `npm test`'s
 * pretest), for the tests of its long-running commands: start one, wait for what it prints (never
 * longer than it lives), follow a payment to its end, and end whatever a test left running.
 *
 * Every listener is attached when the process is spawned, so nothing it prints and not its end
 * can happen before a test listens; every wait fails with the process's stderr when the process
 * ends first or the wait runs out, instead of hanging until the test's timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface CliProcess {
  child: ChildProcess;
  /** What it has written so far. */
  stdout(): string;
  stderr(): string;
  /** Its exit code (null when killed by a signal), once it has ended and all its output is read. */
  exited: Promise<number | null>;
  /** Calls `listener` after each chunk it writes and once more when it has ended; returns how to stop. */
  onOutput(listener: () => void): () => void;
  /** How the command line and its end read in an error message. */
  describe(): string;
}

/** Processes started and not yet seen ending, for `endStartedProcesses`. */
const running = new Set<CliProcess>();

/** Starts `command args` with its output and its end followed from the start (`stdin: 'pipe'` to type into it). */
export function startProcess(
  command: string,
  args: readonly string[],
  env: Record<string, string> = {},
  stdin: 'ignore' | 'pipe' = 'ignore',
): CliProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    changed();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    changed();
  });
  // The command's words after the script (`bin/ecash.js`, `host/cli/main.ts`), for messages.
  const words = args
    .slice(args.findIndex((a) => /\.[jt]s$/.test(a)) + 1)
    .filter((a) => !a.startsWith('-'))
    .slice(0, 2);
  const p: CliProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    // 'close', not 'exit': at 'exit' the last of its output may still be on its way.
    exited: new Promise((resolve) => {
      child.on('close', (code) => {
        running.delete(p);
        resolve(code);
        changed();
      });
      child.on('error', (e) => {
        err += `\n(could not run ${command}: ${e.message})`;
      });
    }),
    onOutput(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    describe() {
      const how =
        child.exitCode !== null
          ? `exit code ${child.exitCode}`
          : child.signalCode !== null
            ? `signal ${child.signalCode}`
            : 'still running';
      return `\`ecash ${words.join(' ')}\` (${how})`;
    },
  };
  running.add(p);
  return p;
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): CliProcess {
  return startProcess('node', ['bin/ecash.js', ...args], env);
}

/** Ends (SIGKILL) every process a test started and left running, and waits until each is gone. */
export async function endStartedProcesses(): Promise<void> {
  const left = [...running];
  for (const p of left) p.child.kill('SIGKILL');
  await Promise.all(left.map((p) => p.exited));
}

/**
 * Waits until `find` sees what it looks for in the process's output, looking at every chunk as it
 * arrives, and returns it. Fails with the process's stderr if the process ends first or `ms` pass
 * (and then ends the process: a command that never printed what it should is of no further use).
 */
export function waitForOutput<T>(
  p: CliProcess,
  find: (stdout: string, stderr: string) => T | undefined,
  what = 'what the test waits for',
  ms = 20_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop();
      outcome();
    };
    const check = () => {
      const found = find(p.stdout(), p.stderr());
      if (found !== undefined) settle(() => resolve(found));
      else if (p.child.exitCode !== null || p.child.signalCode !== null) {
        // Ended: wait for 'close' (all output read) before saying it never printed it.
        void p.exited.then(() => {
          const late = find(p.stdout(), p.stderr());
          settle(() =>
            late !== undefined
              ? resolve(late)
              : reject(new Error(`${p.describe()} ended before printing ${what}; its stderr:\n${p.stderr()}`)),
          );
        });
      }
    };
    const timer = setTimeout(() => {
      p.child.kill('SIGKILL');
      settle(() => reject(new Error(`${p.describe()} did not print ${what} within ${ms / 1000} s; its stderr:\n${p.stderr()}`)));
    }, ms);
    const stop = p.onOutput(check);
    check();
  });
}

/** Waits (`ms` at most) for the process to end; fails with its stderr if it does not. */
export function exitOf(p: CliProcess, ms = 30_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${p.describe()} did not end within ${ms / 1000} s; its stderr:\n${p.stderr()}`)), ms);
    void p.exited.then((code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** `wait`, failed with the process's stderr if the process ends before it settles. */
export function whileRunning<T>(p: CliProcess, wait: Promise<T>): Promise<T> {
  return Promise.race([
    wait,
    p.exited.then(() => {
      throw new Error(`${p.describe()} ended while the test waited for it; its stderr:\n${p.stderr()}`);
    }),
  ]);
}

/** Reads the process's stdout line by line: each call waits (as `waitForOutput`) for the next whole line. */
export function stdoutLines(p: CliProcess): (what: string) => Promise<string> {
  let taken = 0;
  return async (what) => {
    const line = await waitForOutput(
      p,
      (stdout) => {
        const lines = stdout.split('\n');
        return lines.length > taken + 1 ? lines[taken] : undefined;
      },
      what,
    );
    taken++;
    return line;
  };
}

/** A whole line of stderr containing `text`, for `waitForOutput`. */
export const stderrLine =
  (text: string) =>
  (_stdout: string, stderr: string): string | undefined =>
    stderr
      .split('\n')
      .slice(0, -1)
      .find((line) => line.includes(text));

/** The URL `--json` servers print as their one document on stdout (`ecash bank serve`). */
export const jsonUrl = (stdout: string): string | undefined => {
  try {
    return (JSON.parse(stdout) as { url?: string }).url;
  } catch {
    return undefined; // not the whole document yet
  }
};

/** The cash-register API's base URL, which `ecash pos serve` prints on stdout when it is ready. */
export const posApiUrl = (stdout: string): string | undefined => /API at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stdout)?.[1];

/**
 * Polls a payment through the register API of `server` until it is approved, declined or
 * cancelled, and returns that view. Fails with the server's stderr if the server ends first, and
 * with the last state seen after `ms` (the terminal's own card wait ends every payment long before).
 */
export function untilFinal<T extends { state: string }>(server: CliProcess, view: () => Promise<T>, ms = 45_000): Promise<T> {
  return untilPaymentIs(server, view, (v) => ['approved', 'declined', 'cancelled'].includes(v.state), ms);
}

/**
 * Polls the payment `view` of `server` (every 50 ms, at once if the server ends) until `reached`;
 * fails with the server's stderr if the server ends first or `ms` passes. `reached` may throw to
 * say the payment can no longer get there.
 */
export async function untilPaymentIs<T extends { state: string }>(
  server: CliProcess,
  view: () => Promise<T>,
  reached: (v: T) => boolean,
  ms: number,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await view();
    if (reached(v)) return v;
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`${server.describe()} ended with the payment ${v.state}; its stderr:\n${server.stderr()}`);
    }
    if (Date.now() > until)
      throw new Error(`the payment was still ${v.state} after ${ms / 1000} s; the server's stderr:\n${server.stderr()}`);
    await Promise.race([server.exited, new Promise((r) => setTimeout(r, 50))]);
  }
}

/** Runs a short command to its end (`ms` at most) and returns its exit code and output. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  ms = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = startCli(args, env);
  const code = await exitOf(p, ms);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** One call to a JSON API with a bearer token (the simulator's, a terminal's); fails with the answer when it is not 2xx. */
export async function bearerRequest<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(answer)}`);
  return answer;
}
