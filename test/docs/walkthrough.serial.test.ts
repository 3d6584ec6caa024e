/**
 * The docs' command blocks, run as a user pastes them: README.md, then docs/operations.md and
 * docs/terminals.md, in order, in one shell in an empty temporary folder, with `ecash` on the
 * PATH as `npm link` puts it there. A ```sh block runs in the foreground, line by line, and the
 * test fails at the first command that fails; a ```sh background block holds servers (a second
 * terminal for the user): each is started and awaited until it says it is ready on stdout, and all
 * are stopped at the end. Blocks with any other info string are examples and do not run; ```sh
 * setup (npm install, npm link, npm test) is what this test runs inside already. The cards are the
 * emulated card served into pcscd's vpcd slots, so this suite holds pcscd (serial, flock).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pcscdAvailable, requireService } from '../helpers/env.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = ['README.md', 'docs/operations.md', 'docs/terminals.md'];
const COMMAND_MS = 120_000;
const READY_MS = 60_000;

interface Block {
  file: string;
  line: number;
  info: string;
  commands: string[];
}

/** The fenced blocks of a markdown file, each command a logical line (`\` continuations joined). */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && lines[j] !== '```') body.push(lines[j++]!);
    const commands: string[] = [];
    let pending = '';
    for (const l of body) {
      if (l.endsWith('\\')) pending += l.slice(0, -1) + ' ';
      else {
        const command = (pending + l).trim();
        pending = '';
        if (command !== '' && !command.startsWith('#')) commands.push(command);
      }
    }
    out.push({ file, line: i + 1, info: open[1]!.trim(), commands });
    i = j;
  }
  return out;
}

/** One bash reading commands as if typed, with `ecash` on its PATH. */
class Shell {
  private out = '';
  private err = '';
  private readonly child: ChildProcess;
  private readonly ended: Promise<void>;
  private waiters = new Set<() => void>();
  readonly background: number[] = [];

  constructor(
    readonly dir: string,
    bin: string,
  ) {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('ECASH_')) env[k] = v;
    env.PATH = `${bin}:${process.env.PATH ?? ''}`;
    // Its own process group: the servers it starts are in it, and so is a command that hangs.
    this.child = spawn('bash', ['--noprofile', '--norc'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const changed = () => this.waiters.forEach((w) => w());
    this.child.stdout!.on('data', (d: Buffer) => {
      this.out += d.toString();
      changed();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.err += d.toString();
      changed();
    });
    this.ended = new Promise((resolve) => this.child.on('close', () => resolve()));
    void this.ended.then(changed);
    this.child.stdin!.write('set -o pipefail\n');
  }

  /** Waits until `find` finds something in the shell's stdout, the shell ends, or `ms` pass. */
  private async until<T>(find: (out: string) => T | undefined, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let stop = () => {};
    try {
      return await new Promise<T>((resolve, reject) => {
        const check = () => {
          const found = find(this.out);
          if (found !== undefined) resolve(found);
          else if (this.child.exitCode !== null) reject(new Error(`the shell ended while ${what}\n${this.err}`));
        };
        this.waiters.add(check);
        stop = () => this.waiters.delete(check);
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `timed out after ${ms / 1000} s while ${what}\nstdout:\n${this.out.slice(-3000)}\nstderr:\n${this.err.slice(-3000)}`,
              ),
            ),
          ms,
        );
        check();
      });
    } finally {
      stop();
      clearTimeout(timer);
    }
  }

  /** Runs one command; resolves with its exit code and what it printed. */
  async run(command: string, n: number): Promise<{ code: number; output: string }> {
    const from = { out: this.out.length, err: this.err.length };
    const marker = `@@DONE-${n}@@`;
    this.child.stdin!.write(`${command}\necho "${marker} $?"\n`);
    const code = await this.until(
      (out) => {
        const m = new RegExp(`${marker} (\\d+)`).exec(out.slice(from.out));
        return m === null ? undefined : Number(m[1]);
      },
      COMMAND_MS,
      `running: ${command}`,
    );
    return { code, output: this.out.slice(from.out).replace(new RegExp(`${marker} \\d+\\n?`), '') + this.err.slice(from.err) };
  }

  /** Starts a server command in the background and waits until it prints its ready line on stdout. */
  async start(command: string, n: number): Promise<void> {
    const log = join(this.dir, `.server-${n}`);
    const marker = `@@PID-${n}@@`;
    // The log files exist before the server starts writing to them.
    // (On a line of its own, so that a comment ending the command does not swallow the redirections.)
    this.child.stdin!.write(`: > ${log}.out; : > ${log}.err; { ${command}\n} >> ${log}.out 2>> ${log}.err &\necho "${marker} $!"\n`);
    const pid = await this.until(
      (out) => {
        const m = new RegExp(`${marker} (\\d+)`).exec(out);
        return m === null ? undefined : Number(m[1]);
      },
      10_000,
      `starting: ${command}`,
    );
    this.background.push(pid);
    const deadline = Date.now() + READY_MS;
    // Polls the server's log file (it writes there, not to a pipe this test holds), bounded and
    // ended as soon as the server has died.
    for (;;) {
      if (readFileSync(`${log}.out`, 'utf8').includes('\n')) return;
      if (!alive(pid)) throw new Error(`\`${command}\` ended before it was ready:\n${readFileSync(`${log}.err`, 'utf8')}`);
      if (Date.now() > deadline)
        throw new Error(`\`${command}\` was not ready within ${READY_MS / 1000} s:\n${readFileSync(`${log}.err`, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Stops the servers and anything still running (SIGTERM to the shell's process group: a served
   * card leaves its vpcd slot on SIGTERM), waits until they have ended, then SIGKILLs what is left.
   */
  async close(): Promise<void> {
    const group = this.child.pid!;
    const pids = [...this.background];
    try {
      process.kill(-group, 'SIGTERM');
    } catch {
      // the group has ended already
    }
    const deadline = Date.now() + 20_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.ended;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return false;
  }
}

describe.runIf(requireService(pcscdAvailable(), 'pcscd (with vsmartcard-vpcd)'))('the docs, run as written', () => {
  let dir: string;
  let shell: Shell;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ecash-docs-'));
    const bin = join(dir, '.bin');
    mkdirSync(bin);
    // What `npm link` installs: `ecash` running this checkout's bin/ecash.js.
    writeFileSync(join(bin, 'ecash'), `#!/bin/sh\nexec node ${JSON.stringify(join(ROOT, 'bin', 'ecash.js'))} "$@"\n`);
    chmodSync(join(bin, 'ecash'), 0o755);
    shell = new Shell(dir, bin);
  });

  afterAll(async () => {
    await shell?.close();
    if (dir !== undefined && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });

  it('every runnable block of README.md, docs/operations.md and docs/terminals.md runs, in order', async () => {
    const blocks = DOCS.flatMap(blocksOf);
    const runnable = blocks.filter((b) => b.info === 'sh' || b.info === 'sh background');
    expect(runnable.filter((b) => b.file === 'README.md').length).toBeGreaterThanOrEqual(6);
    expect(runnable.some((b) => b.file === 'docs/operations.md')).toBe(true);
    for (const b of blocks) {
      // A block is runnable, a server block, setup, or says it is an example: nothing unmarked.
      expect(
        ['sh', 'sh background', 'sh setup', 'sh example', 'sql', 'text', ''].includes(b.info) || !b.info.startsWith('sh'),
        `${b.file}:${b.line} info "${b.info}"`,
      ).toBe(true);
      if (b.info === '' && b.commands.some((c) => /^(ecash|npx|npm) /.test(c)))
        throw new Error(`${b.file}:${b.line}: a command block without an info string: mark it sh or sh example`);
    }
    let n = 0;
    for (const block of runnable) {
      for (const command of block.commands) {
        n++;
        if (block.info === 'sh background') await shell.start(command, n);
        else {
          const { code, output } = await shell.run(command, n);
          expect(code, `${block.file}:${block.line}: \`${command}\` exited ${code}:\n${output}`).toBe(0);
        }
      }
    }
  }, 900_000);
});
