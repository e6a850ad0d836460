/**
 * Walks a build context the way the archive needs it: `lstat` semantics (symlinks are entries,
 * never followed), `.dockerignore` applied with Docker's rules, and a result sorted by the byte
 * order of the UTF-8 path (so a directory comes before its contents).
 *
 * Documented behaviours for hostile input (each error is an ActionError of kind 'context'):
 * - context missing or not a directory → `Local build context not found: <dir>`;
 * - the filesystem root as context (also through a symlink) → refused: it would archive the whole
 *   machine (`/proc`, `/sys`, ...); Docker's documentation warns against it too;
 * - symlinks are archived as symlinks with the target string verbatim, whether it points inside
 *   or outside the context, dangling or absolute: nothing outside the context is ever read;
 * - sockets, FIFOs and block/character devices are not archived: they are returned in `skipped`
 *   with a reason so the caller can warn (excluded ones are dropped silently);
 * - a directory that cannot be listed (EACCES) → an error naming it, with advice to exclude it,
 *   unless it is excluded and only walked because a `!` rule might re-include something below
 *   it (then it is skipped, as BuildKit does);
 * - a file or directory name that is not valid UTF-8 → an error naming the directory and the
 *   name with the bad bytes escaped (`\xNN`), unless `.dockerignore` excludes it (the name is
 *   matched with each bad byte read as U+FFFD, so `dir/*` or `*.bin` can exclude it). Tar paths in
 *   this archive are UTF-8 (pax), so such a name cannot be carried faithfully; refusing is better
 *   than silently renaming a file the Dockerfile may COPY. A symlink whose target is not valid
 *   UTF-8 is refused the same way;
 * - archives this action writes itself (`tensorlake-build-context-*.tar.gz`) in the output
 *   directory are skipped when that directory is inside the context, so the action never archives
 *   its own output (the new archive is also only created after the walk).
 * - excluded `Dockerfile` and `.dockerignore`: Docker sends them to the daemon but hides them from
 *   ADD/COPY. The builder here receives the Dockerfile in the spec (docs/protocol.md §2.1) and sees the
 *   context only as extracted files, so leaving them out of the archive is what gives Docker's
 *   observable result: not excluded → in the archive (and COPY-able), excluded → not visible.
 *
 * Over 350 lines on purpose: the walk and its safety checks (entry kinds, inode identity, names)
 * must be read together to see that no path escapes the context.
 */
import { isAscii } from 'node:buffer';
import * as fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { ActionError, cancelledError } from '../errors.js';
import { loadDockerignoreMatcher, type DockerIgnoreMatcher } from './dockerignore.js';

export interface SkippedEntry {
  path: string;
  reason: string;
}

export interface ScannedEntry {
  /** context-relative, `/`-separated, no leading `./`, no trailing `/` */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** bytes of a regular file; 0 for directories and symlinks */
  size: number;
  /** normalised archive mode: dirs 0755, files 0755 (any x bit) or 0644, symlinks 0777 */
  mode: number;
  linkTarget?: string;
  /** regular files: the device and inode the walk saw (the archive checks it opens the same file) */
  dev?: number;
  ino?: number;
}

export interface ScanResult {
  root: string;
  /** the context's real path (symlinks resolved): where the archive opens files */
  realRoot: string;
  entries: ScannedEntry[];
  skipped: SkippedEntry[];
  totalBytes: number;
  ignoreFile?: string;
}

export interface ScanOptions {
  dockerfilePath?: string;
  /** directory the archive will be written to: our own archives found there are skipped */
  outputDir?: string;
  signal?: AbortSignal;
}

export const OWN_ARCHIVE_RE = /^tensorlake-build-context-.*\.tar\.gz$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(buf: Buffer): string | null {
  if (isAscii(buf)) return buf.toString('latin1'); // most names: no decoder needed
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

/** Printable ASCII as is (`\` doubled), every other byte as `\xNN`. */
export function escapeBytes(buf: Buffer): string {
  let s = '';
  for (const b of buf) {
    if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

export function archivingCancelled(signal: AbortSignal): ActionError {
  return cancelledError('archiving the build context', signal.reason);
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function ignoreAdvice(matcher: DockerIgnoreMatcher, root: string): string {
  return `Or exclude it from the build context in ${matcher.source ?? path.join(root, '.dockerignore')}.`;
}

export function normaliseMode(type: ScannedEntry['type'], mode: number): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  return mode & 0o111 ? 0o755 : 0o644;
}

function specialKind(d: { isFIFO(): boolean; isSocket(): boolean; isBlockDevice(): boolean; isCharacterDevice(): boolean }): string | null {
  if (d.isFIFO()) return 'FIFO (named pipe)';
  if (d.isSocket()) return 'socket';
  if (d.isBlockDevice()) return 'block device';
  if (d.isCharacterDevice()) return 'character device';
  return null;
}

/** Resolves and checks the context directory; returns its absolute path and real path. */
export async function resolveContextRoot(contextDir: string): Promise<{ root: string; real: string }> {
  const root = path.resolve(contextDir);
  let real: string;
  try {
    const st = await fsp.stat(root);
    if (!st.isDirectory()) {
      throw new ActionError(`Local build context not found: ${contextDir}`, {
        kind: 'context',
        advice: [`${root} exists but is not a directory; the build context must be a directory (set the \`context\` input).`],
      });
    }
    real = await fsp.realpath(root);
  } catch (e) {
    if (e instanceof ActionError) throw e;
    throw new ActionError(`Local build context not found: ${contextDir}`, {
      kind: 'context',
      advice: [
        `${root} ${errCode(e) === 'EACCES' ? 'cannot be accessed (permission denied)' : 'does not exist'}; check the \`context\` input (relative paths start at the workspace).`,
      ],
      cause: e,
    });
  }
  if (path.parse(real).root === real) {
    throw new ActionError(`Refusing to use the filesystem root as the build context: ${contextDir}`, {
      kind: 'context',
      advice: [
        'Archiving / would upload the whole machine; set the `context` input to the directory that holds the files the Dockerfile needs.',
      ],
    });
  }
  return { root, real };
}

/** Linux: `/proc/self/fd/<n>/<name>` resolves `name` inside the directory the descriptor holds (openat semantics). */
const PROC_FD = '/proc/self/fd';
let procFdUsable: boolean | undefined;
function haveProcFd(): boolean {
  if (procFdUsable === undefined) {
    try {
      procFdUsable = process.platform === 'linux' && fs.statSync(PROC_FD).isDirectory();
    } catch {
      procFdUsable = false;
    }
  }
  return procFdUsable;
}
const DIR_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0) | (fs.constants.O_NOFOLLOW ?? 0);
/** The walk yields to the event loop (timers, signals, cancellation) after this much synchronous work. */
const YIELD_MS = 8;

/**
 * The walk: synchronous file-system calls (one `readdir` per directory, one `lstat` per file or
 * symlink; no promise per entry), yielding to the event loop every few milliseconds.
 *
 * On Linux each directory is opened (`O_DIRECTORY|O_NOFOLLOW`) below its parent's descriptor and
 * listed and `lstat`ed through `/proc/self/fd/<n>`, so every entry recorded really is inside the
 * context even if a directory is swapped for a symlink while the walk runs: a swapped directory
 * fails to open (it is a symlink now) or is a different inode than the parent listed. Each file's
 * device and inode are recorded; the archive opens the file by path and checks that it got that
 * inode (see `archive.ts`). Elsewhere (no `/proc`) the walk uses plain paths.
 */
export async function scanContext(contextDir: string, opts: ScanOptions = {}): Promise<ScanResult> {
  const { signal } = opts;
  if (signal?.aborted) throw archivingCancelled(signal);
  const { root, real } = await resolveContextRoot(contextDir);
  const matcher = await loadDockerignoreMatcher(root, opts.dockerfilePath);
  let outputRel: string | null = null;
  if (opts.outputDir !== undefined) {
    let outReal: string;
    try {
      outReal = await fsp.realpath(opts.outputDir);
    } catch {
      outReal = path.resolve(opts.outputDir);
    }
    const rel = path.relative(real, outReal);
    if (rel === '') outputRel = '';
    else if (!rel.startsWith('..') && !path.isAbsolute(rel)) outputRel = rel.split(path.sep).join('/');
  }

  const entries: ScannedEntry[] = [];
  const skipped: SkippedEntry[] = [];
  let totalBytes = 0;
  const useFd = haveProcFd();

  const badName = (relDir: string, name: Buffer, what: string): ActionError =>
    new ActionError(`Build context ${what} name is not valid UTF-8: "${escapeBytes(name)}" in directory ${relDir === '' ? '.' : relDir}`, {
      kind: 'context',
      advice: [
        'Tar paths in the context archive are UTF-8; rename the file (e.g. with convmv) so its name is valid UTF-8.',
        ignoreAdvice(matcher, root) + ' Bad bytes match wildcards such as `*`.',
      ],
    });
  const vanished = (relDir: string, e?: unknown): ActionError =>
    new ActionError(`Build context directory changed while archiving: ${relDir === '' ? '.' : relDir} (it no longer exists)`, {
      kind: 'context',
      advice: ['Do not modify the build context while the action runs.'],
      cause: e,
    });
  const swapped = (relDir: string): ActionError =>
    new ActionError(`Build context directory changed while archiving: ${relDir} (it is no longer the directory that was listed)`, {
      kind: 'context',
      advice: ['Do not modify the build context while the action runs.'],
    });

  let sliceStart = performance.now();
  const maybeYield = async (): Promise<void> => {
    if (performance.now() - sliceStart < YIELD_MS) return;
    await new Promise<void>((r) => setImmediate(r));
    if (signal?.aborted) throw archivingCancelled(signal);
    sliceStart = performance.now();
  };

  /** Opens a directory as a handle: `base` is where names resolve (a `/proc/self/fd/<n>` path, or the absolute path). */
  const openDir = (relDir: string, at: string, expect?: { dev: number; ino: number }, excluded = false): number | null => {
    let fd: number;
    try {
      fd = fs.openSync(at, DIR_FLAGS);
    } catch (e) {
      const code = errCode(e);
      if (excluded && (code === 'EACCES' || code === 'EPERM')) return null;
      if (code === 'EACCES' || code === 'EPERM') throw unreadableDir(relDir, e);
      if (code === 'ENOENT') throw vanished(relDir, e);
      if (code === 'ELOOP' || code === 'ENOTDIR') throw swapped(relDir);
      throw new ActionError(`Cannot read build context directory: ${relDir === '' ? '.' : relDir} (${(e as Error).message})`, {
        kind: 'context',
        cause: e,
      });
    }
    if (expect) {
      const st = fs.fstatSync(fd);
      if (st.dev !== expect.dev || st.ino !== expect.ino) {
        fs.closeSync(fd);
        throw swapped(relDir);
      }
    }
    return fd;
  };
  const unreadableDir = (relDir: string, e: unknown): ActionError =>
    new ActionError(`Cannot read build context directory: ${relDir === '' ? '.' : relDir} (permission denied)`, {
      kind: 'context',
      advice: ['Make the directory readable by the runner user.', ignoreAdvice(matcher, root)],
      cause: e,
    });

  const statEntry = (rel: string, at: string): { entry: ScannedEntry } | { skip: SkippedEntry } => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch (e) {
      throw new ActionError(`Build context file changed while archiving: ${rel} (it disappeared during the walk)`, {
        kind: 'context',
        advice: ['Do not modify the build context while the action runs.'],
        cause: e,
      });
    }
    if (st.isSymbolicLink()) {
      let target: Buffer;
      try {
        target = fs.readlinkSync(at, { encoding: 'buffer' });
      } catch (e) {
        throw new ActionError(`Cannot read build context symlink: ${rel} (${(e as Error).message})`, { kind: 'context', cause: e });
      }
      const t = decodeUtf8(target);
      if (t === null) {
        throw new ActionError(`Build context symlink target is not valid UTF-8: ${rel} -> "${escapeBytes(target)}"`, {
          kind: 'context',
          advice: ['Tar link targets in the context archive are UTF-8; fix the link.', ignoreAdvice(matcher, root)],
        });
      }
      return { entry: { path: rel, type: 'symlink', size: 0, mode: 0o777, linkTarget: t } };
    }
    if (st.isFile()) {
      return { entry: { path: rel, type: 'file', size: st.size, mode: normaliseMode('file', st.mode), dev: st.dev, ino: st.ino } };
    }
    const special = specialKind(st);
    if (special) return { skip: { path: rel, reason: `${special}: not archived` } };
    // a directory appearing where readdir saw a file: the tree changed under us
    throw new ActionError(`Build context file changed while archiving: ${rel} (its type changed during the walk)`, {
      kind: 'context',
      advice: ['Do not modify the build context while the action runs.'],
    });
  };

  /**
   * Lists one directory. `at` is how to reach it: its absolute path (plain walk, or the root), or
   * `/proc/self/fd/<parent>/<name>` (fd walk). Returns how many entries were emitted below it.
   */
  const walk = async (
    relDir: string,
    absDir: string,
    at: string,
    expect: { dev: number; ino: number } | undefined,
    state: readonly boolean[],
    excluded: boolean,
  ): Promise<number> => {
    await maybeYield();
    if (signal?.aborted) throw archivingCancelled(signal);
    let fd: number | null = null;
    let base = absDir;
    if (useFd) {
      fd = openDir(relDir, at, expect, excluded);
      if (fd === null) return 0;
      base = `${PROC_FD}/${fd}`;
    }
    try {
      let dirents: fs.Dirent<Buffer>[];
      try {
        dirents = fs.readdirSync(base, { withFileTypes: true, encoding: 'buffer' });
      } catch (e) {
        const code = errCode(e);
        if (excluded && (code === 'EACCES' || code === 'EPERM')) return 0;
        if (code === 'EACCES' || code === 'EPERM') throw unreadableDir(relDir, e);
        if (code === 'ENOENT' || code === 'ENOTDIR') throw vanished(relDir, e);
        throw new ActionError(`Cannot read build context directory: ${relDir === '' ? '.' : relDir} (${(e as Error).message})`, {
          kind: 'context',
          cause: e,
        });
      }

      let emitted = 0;
      const subdirs: Array<{ rel: string; name: string; state: boolean[]; excluded: boolean }> = [];
      for (const d of dirents) {
        const nameBuf = d.name;
        const name = decodeUtf8(nameBuf);
        const isDir = d.isDirectory();
        const rel = relDir === '' ? (name ?? nameBuf.toString('utf8')) : `${relDir}/${name ?? nameBuf.toString('utf8')}`;
        const { ignored, state: childState } = matcher.matchChild(rel, state);
        const reinclude = ignored && isDir && matcher.mayReinclude(rel);
        if (ignored && !reinclude) continue;
        if (name === null) throw badName(relDir, nameBuf, isDir ? 'directory' : 'file');
        if (outputRel !== null && relDir === outputRel && OWN_ARCHIVE_RE.test(name) && !isDir) {
          skipped.push({ path: rel, reason: 'an archive written by this action (its output directory is inside the context)' });
          continue;
        }
        if (isDir) {
          subdirs.push({ rel, name, state: childState, excluded: ignored });
          continue;
        }
        if (ignored) continue;
        const special = specialKind(d);
        if (special) {
          skipped.push({ path: rel, reason: `${special}: not archived` });
          continue;
        }
        const r = statEntry(rel, `${base}/${name}`);
        if ('skip' in r) {
          skipped.push(r.skip);
          continue;
        }
        entries.push(r.entry);
        totalBytes += r.entry.size;
        emitted++;
      }

      for (const sd of subdirs) {
        const childAt = `${base}/${sd.name}`;
        let expectChild: { dev: number; ino: number } | undefined;
        if (useFd) {
          // what this directory's listing holds under that name; the open below must get the same inode
          let st: fs.Stats;
          try {
            st = fs.lstatSync(childAt);
          } catch (e) {
            throw vanished(sd.rel, e);
          }
          if (!st.isDirectory()) throw swapped(sd.rel);
          expectChild = { dev: st.dev, ino: st.ino };
        }
        const childAbs = path.join(absDir, sd.name);
        if (sd.excluded) {
          const n = await walk(sd.rel, childAbs, childAt, expectChild, sd.state, true);
          if (n > 0) {
            entries.push({ path: sd.rel, type: 'dir', size: 0, mode: 0o755 });
            emitted += n + 1;
          }
        } else {
          entries.push({ path: sd.rel, type: 'dir', size: 0, mode: 0o755 });
          emitted += 1 + (await walk(sd.rel, childAbs, childAt, expectChild, sd.state, false));
        }
      }
      return emitted;
    } finally {
      if (fd !== null) fs.closeSync(fd);
    }
  };

  await walk('', real, real, undefined, matcher.rootState(), false);

  return {
    root,
    realRoot: real,
    entries: sortByPath(entries),
    skipped: sortByPath(skipped),
    totalBytes,
    ignoreFile: matcher.source,
  };
}

/**
 * Sorts by the byte order of the UTF-8 path (a directory's path is a prefix of its contents'
 * paths, so it sorts first). UTF-16 order is the same as UTF-8 byte order unless a path holds a
 * surrogate pair or a code unit from U+E000 up, so plain string comparison is used unless one does.
 */
export function sortByPath<T extends { path: string }>(items: T[]): T[] {
  const simple = items.every((e) => !/[\ud800-\uffff]/.test(e.path));
  if (simple) return items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const keyed = items.map((e) => ({ key: Buffer.from(e.path, 'utf8'), e }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.e);
}
