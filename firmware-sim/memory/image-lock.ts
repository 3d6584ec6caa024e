/**
 * A card image is one card: it is opened by one process at a time. Two openers would each keep
 * their own copy of the card's memory and both pay with the same coins (a false double spend that
 * names the honest holder), so a second opener gets `card-in-use`.
 *
 * Mechanism (docs/card.md, "One process per image"): an exclusive SQLite lock on a sidecar file
 * `<image>.lock`, held by an open `BEGIN EXCLUSIVE` transaction for as long as the card is open.
 * SQLite takes it with the operating system's record locks (fcntl on Unix, LockFileEx on Windows),
 * which the kernel releases when the holder closes it, exits or is killed (SIGKILL, a crash): no
 * stale lock to clean up, no pid to guess about, no race between two processes reclaiming one.
 * Node has no flock; better-sqlite3 is already a dependency, so the lock needs no new one. Within
 * one process SQLite's own lock table refuses a second connection as well; a registry of open
 * images gives that case its own message. The sidecar file is never deleted: deleting it while a
 * card is open would let a newcomer lock a new file of the same name.
 */
import Database from 'better-sqlite3';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EcashError } from '../../core/index.js';

/** Images open in this process, by lock-file path. */
const openHere = new Set<string>();

/** Where the lock of `imagePath` lives: beside the real file (symbolic links resolved). */
export function lockPathFor(imagePath: string): string {
  let real: string;
  try {
    real = realpathSync(imagePath);
  } catch {
    // Not created yet: resolve the directory, keep the name.
    try {
      real = join(realpathSync(dirname(imagePath)), basename(imagePath));
    } catch (cause) {
      throw new EcashError('card-image-unreadable', `cannot open the card image ${imagePath}: ${(cause as Error).message}`, { cause });
    }
  }
  return `${real}.lock`;
}

/** The process holding a record lock on `file`, from Linux's /proc/locks (undefined elsewhere or if unknown). */
function lockHolder(file: string): { pid: number; command: string | undefined } | undefined {
  try {
    const st = statSync(file);
    const major = Number((BigInt(st.dev) >> 8n) & 0xfffn);
    const minor = Number((BigInt(st.dev) & 0xffn) | ((BigInt(st.dev) >> 12n) & 0xfff00n));
    const device = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      // "1: POSIX  ADVISORY  WRITE 10203 fe:00:2147397 1073741824 1073742335"
      if (f[1] !== 'POSIX' || f[5] !== device) continue;
      const pid = Number(f[4]);
      if (!Number.isInteger(pid) || pid <= 0) continue;
      let command: string | undefined;
      try {
        command =
          readFileSync(`/proc/${pid}/cmdline`, 'utf8')
            .split('\0')
            .filter((x) => x !== '')
            .join(' ') || undefined;
      } catch {
        command = undefined;
      }
      return { pid, command };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function inUse(imagePath: string, lockPath: string): EcashError {
  const holder = lockHolder(lockPath);
  const who =
    holder === undefined
      ? 'another process'
      : `process ${holder.pid}${holder.command === undefined ? '' : ` (${holder.command.length > 120 ? `${holder.command.slice(0, 117)}...` : holder.command})`}`;
  return new EcashError(
    'card-in-use',
    `the card image ${imagePath} is in use by ${who}: a card image is one card and is opened by one process at a time. ` +
      'Stop that process (Ctrl-C on `ecash card serve`) or wait for it to finish, then try again',
    { details: { image: imagePath, lockFile: lockPath, pid: holder?.pid ?? null } },
  );
}

/** An exclusive hold on one card image, until `release()` or the end of the process. */
export class ImageLock {
  private constructor(
    private db: Database.Database | undefined,
    readonly lockPath: string,
  ) {}

  /** Takes the image's lock at once, or throws `card-in-use` naming the holder when it can. */
  static acquire(imagePath: string): ImageLock {
    const lockPath = lockPathFor(imagePath);
    if (openHere.has(lockPath)) {
      throw new EcashError('card-in-use', `the card image ${imagePath} is already open in this process: close it before opening it again`, {
        details: { image: imagePath, lockFile: lockPath, pid: process.pid },
      });
    }
    let db: Database.Database;
    try {
      db = new Database(lockPath, { timeout: 0 });
    } catch (cause) {
      throw new EcashError(
        'card-lock-failed',
        `cannot create the lock file ${lockPath} beside the card image: ${(cause as Error).message}; the image's directory must be writable`,
        { cause },
      );
    }
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // No rollback journal file: the lock database never holds data.
      db.pragma('journal_mode = MEMORY');
      db.exec('BEGIN EXCLUSIVE');
    } catch (cause) {
      db.close();
      if ((cause as { code?: string }).code === 'SQLITE_BUSY') throw inUse(imagePath, lockPath);
      throw new EcashError(
        'card-lock-failed',
        `cannot lock the card image through ${lockPath}: ${(cause as Error).message}; if no process uses the card, delete that file and try again`,
        { cause },
      );
    }
    openHere.add(lockPath);
    return new ImageLock(db, lockPath);
  }

  /** Lets the next opener in (idempotent). */
  release(): void {
    if (this.db === undefined) return;
    this.db.close();
    this.db = undefined;
    openHere.delete(this.lockPath);
  }
}
