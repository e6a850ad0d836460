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
 *   ADD/COPY. The builder here receives the Dockerfile in the spec (CONTRACT §2.1) and sees the
 *   context only as extracted files, so leaving them out of the archive is what gives Docker's
 *   observable result: not excluded → in the archive (and COPY-able), excluded → not visible.
 */
import { promises as fsp, type Dirent } from 'node:fs';
import * as os from 'node:os';
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
}

export interface ScanResult {
  root: string;
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
const LSTAT_CONCURRENCY = 32;

function decodeUtf8(buf: Buffer): string | null {
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

export async function scanContextInternal(contextDir: string, opts: ScanOptions = {}): Promise<ScanResult> {
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

  const badName = (relDir: string, name: Buffer, what: string): ActionError =>
    new ActionError(`Build context ${what} name is not valid UTF-8: "${escapeBytes(name)}" in directory ${relDir === '' ? '.' : relDir}`, {
      kind: 'context',
      advice: [
        'Tar paths in the context archive are UTF-8; rename the file (e.g. with convmv) so its name is valid UTF-8.',
        ignoreAdvice(matcher, root) + ' Bad bytes match wildcards such as `*`.',
      ],
    });

  const walk = async (relDir: string, absDir: string, state: readonly boolean[], excluded: boolean): Promise<number> => {
    if (signal?.aborted) throw archivingCancelled(signal);
    let dirents: Dirent<Buffer>[];
    try {
      dirents = await fsp.readdir(absDir, { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      const code = errCode(e);
      if (excluded && (code === 'EACCES' || code === 'EPERM')) return 0;
      const shown = relDir === '' ? '.' : relDir;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new ActionError(`Cannot read build context directory: ${shown} (permission denied)`, {
          kind: 'context',
          advice: ['Make the directory readable by the runner user.', ignoreAdvice(matcher, root)],
          cause: e,
        });
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new ActionError(`Build context directory changed while archiving: ${shown} (it no longer exists)`, {
          kind: 'context',
          advice: ['Do not modify the build context while the action runs.'],
          cause: e,
        });
      }
      throw new ActionError(`Cannot read build context directory: ${shown} (${(e as Error).message})`, { kind: 'context', cause: e });
    }

    let emitted = 0;
    const needStat: Array<{ rel: string; abs: string; isLink: boolean }> = [];
    const subdirs: Array<{ rel: string; abs: string; state: boolean[]; excluded: boolean }> = [];

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
      const abs = path.join(absDir, name);
      if (isDir) {
        subdirs.push({ rel, abs, state: childState, excluded: ignored });
        continue;
      }
      if (ignored) continue;
      const special = specialKind(d);
      if (special) {
        skipped.push({ path: rel, reason: `${special}: not archived` });
        continue;
      }
      needStat.push({ rel, abs, isLink: d.isSymbolicLink() });
    }

    for (let i = 0; i < needStat.length; i += LSTAT_CONCURRENCY) {
      if (signal?.aborted) throw archivingCancelled(signal);
      const batch = needStat.slice(i, i + LSTAT_CONCURRENCY);
      const results = await Promise.all(batch.map((item) => statEntry(item.rel, item.abs)));
      for (const r of results) {
        if ('skip' in r) {
          skipped.push(r.skip);
          continue;
        }
        entries.push(r.entry);
        totalBytes += r.entry.size;
        emitted++;
      }
    }

    for (const sd of subdirs) {
      if (sd.excluded) {
        const n = await walk(sd.rel, sd.abs, sd.state, true);
        if (n > 0) {
          entries.push({ path: sd.rel, type: 'dir', size: 0, mode: 0o755 });
          emitted += n + 1;
        }
      } else {
        entries.push({ path: sd.rel, type: 'dir', size: 0, mode: 0o755 });
        emitted += 1 + (await walk(sd.rel, sd.abs, sd.state, false));
      }
    }
    return emitted;
  };

  const statEntry = async (rel: string, abs: string): Promise<{ entry: ScannedEntry } | { skip: SkippedEntry }> => {
    let st;
    try {
      st = await fsp.lstat(abs);
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
        target = await fsp.readlink(abs, { encoding: 'buffer' });
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
    if (st.isFile()) return { entry: { path: rel, type: 'file', size: st.size, mode: normaliseMode('file', st.mode) } };
    const special = specialKind(st);
    if (special) return { skip: { path: rel, reason: `${special}: not archived` } };
    // a directory appearing where readdir saw a file: the tree changed under us
    throw new ActionError(`Build context file changed while archiving: ${rel} (its type changed during the walk)`, {
      kind: 'context',
      advice: ['Do not modify the build context while the action runs.'],
    });
  };

  await walk('', root, matcher.rootState(), false);

  // Byte order of the UTF-8 path; a directory's path is a prefix of its contents' paths, so it
  // sorts first.
  const keyed = entries.map((e) => ({ key: Buffer.from(e.path, 'utf8'), e }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return {
    root,
    entries: keyed.map((k) => k.e),
    skipped: skipped.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))),
    totalBytes,
    ignoreFile: matcher.source,
  };
}

/** The public planning view (no archive, no network). */
export async function scanContext(
  contextDir: string,
  opts: { dockerfilePath?: string } = {},
): Promise<{ entries: { path: string; type: 'file' | 'dir' | 'symlink'; size: number }[]; skipped: SkippedEntry[]; totalBytes: number }> {
  const r = await scanContextInternal(contextDir, { dockerfilePath: opts.dockerfilePath, outputDir: os.tmpdir() });
  return {
    entries: r.entries.map((e) => ({ path: e.path, type: e.type, size: e.size })),
    skipped: r.skipped,
    totalBytes: r.totalBytes,
  };
}
