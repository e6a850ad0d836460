/**
 * The build context archive: a deterministic, streamed `tar.gz` written to a temp file.
 *
 * walk (`walk.ts`, sorted) → tar-stream pack → sha256 (`digest`) → gzip → sha256
 * (`archiveDigest`) → `tensorlake-build-context-<random>.tar.gz` in `os.tmpdir()` (or `tmpDir`).
 * Only the list of entries is held in memory; file contents stream through with backpressure.
 *
 * Determinism: entries sorted by the byte order of their UTF-8 path (directories before their
 * contents), uid/gid 0, empty uname/gname, mtime 0, modes normalised (dirs 0755, files 0755 when
 * any execute bit is set else 0644, symlinks 0777), ustar headers with pax records for long or
 * non-ASCII paths and link targets, gzip through node:zlib at a fixed level (its header carries
 * mtime 0). The same context gives the same `digest` anywhere; `archiveDigest` is the same for the
 * same Node/zlib build (another zlib may compress differently), so `digest` is the identity to
 * report and compare.
 *
 * `uncompressedBytes` is the size of the tar stream (headers and padding included: what `digest`
 * covers); the sum of file sizes is the progress `totalBytes`.
 *
 * Files are opened with O_NOFOLLOW|O_NONBLOCK: a file replaced by a symlink after the walk is
 * never followed out of the context, and one replaced by a FIFO cannot block the run. A file
 * whose size differs from the walk's → `Build context file changed while archiving: <path>
 * (expected <n>, read <m>)`; nothing is retried.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { ActionError, isActionError } from '../errors.js';
import { archivingCancelled, scanContext, scanContextInternal, type ScannedEntry, type SkippedEntry } from './walk.js';

export { scanContext };
export type { SkippedEntry };

export interface ArchiveProgress {
  phase: 'archive';
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  percent: number;
}

export interface ContextArchive {
  path: string;
  compressedBytes: number;
  uncompressedBytes: number;
  fileCount: number;
  dirCount: number;
  symlinkCount: number;
  digest: string;
  archiveDigest: string;
  entries: string[];
  skipped: SkippedEntry[];
  ignoreFile?: string;
  cleanup(): Promise<void>;
}

export interface ContextArchiveOptions {
  dockerfilePath?: string;
  tmpDir?: string;
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
  gzipLevel?: number;
}

/** Test seam: how files are opened (lets tests simulate EACCES when running as root). */
export const archiveTestHooks: { openFile: (p: string, flags: number) => Promise<FileHandle> } = {
  openFile: (p, flags) => fsp.open(p, flags),
};

const DEFAULT_GZIP_LEVEL = 6;
const READ_CHUNK = 256 * 1024;
/** Files up to this size are read whole, ahead of the tar writer. */
const SMALL_FILE = 64 * 1024;
const READ_AHEAD_FILES = 32;
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/** The tar stream is handed to gzip in blocks of at least this size (fewer zlib round trips). */
const GZIP_BLOCK = 64 * 1024;
const PROGRESS_BYTES_STEP = 64 * 1024 * 1024;
/** Pause feeding headers while tar-stream holds more than this much unread output. */
const PACK_BUFFER_LIMIT = 1024 * 1024;
const MTIME_ZERO = new Date(0);
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0);

/** Hashes and counts what passes; with `block`, also coalesces small chunks into blocks. */
function hashTap(block = 0): { stream: Transform; hash: ReturnType<typeof createHash>; bytes: () => number } {
  const hash = createHash('sha256');
  let n = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      n += chunk.length;
      if (block === 0) return cb(null, chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < block) return cb();
      const out = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      cb(null, out);
    },
    flush(cb) {
      if (pendingBytes > 0) this.push(Buffer.concat(pending, pendingBytes));
      pending = [];
      cb();
    },
  });
  return { stream, hash, bytes: () => n };
}

function noLongerFile(rel: string, cause?: unknown): ActionError {
  return new ActionError(`Build context file changed while archiving: ${rel} (it is no longer a regular file)`, {
    kind: 'context',
    advice: ['Do not modify the build context while the action runs.'],
    cause,
  });
}

function changed(rel: string, expected: number, read: number): ActionError {
  return new ActionError(`Build context file changed while archiving: ${rel} (expected ${expected}, read ${read})`, {
    kind: 'context',
    advice: [
      'Something modified the file while the action read it; do not write into the build context during the build, or exclude the file in .dockerignore.',
    ],
  });
}

export async function createContextArchive(contextDir: string, opts: ContextArchiveOptions = {}): Promise<ContextArchive> {
  const { signal, onProgress } = opts;
  if (signal?.aborted) throw archivingCancelled(signal);
  const level = opts.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ActionError(`Invalid gzip level ${level}: use an integer from 0 to 9`, { kind: 'internal' });
  }
  const tmpDir = path.resolve(opts.tmpDir ?? os.tmpdir());
  const scan = await scanContextInternal(contextDir, { dockerfilePath: opts.dockerfilePath, outputDir: tmpDir, signal });
  if (signal?.aborted) throw archivingCancelled(signal);

  const outPath = path.join(tmpDir, `tensorlake-build-context-${randomBytes(8).toString('hex')}.tar.gz`);
  let out: FileHandle;
  try {
    out = await fsp.open(outPath, 'wx', 0o600);
  } catch (e) {
    throw new ActionError(`Cannot create the build context archive in ${tmpDir}: ${(e as Error).message}`, {
      kind: 'context',
      advice: ['Check that the temp directory exists and is writable (RUNNER_TEMP / TMPDIR).'],
      cause: e,
    });
  }

  const pack = tar.pack();
  const tarTap = hashTap(GZIP_BLOCK);
  const gzTap = hashTap();
  const gzip = zlib.createGzip({ level });
  const sink = out.createWriteStream();
  const done = pipeline(pack, tarTap.stream, gzip, gzTap.stream, sink);
  // Rejects (and stays rejected) when the pipeline fails, so every wait can race against it.
  let failure: unknown;
  const failed = done.then(
    () => new Promise<never>(() => {}),
    (e: unknown) => {
      failure ??= e;
      throw e;
    },
  );
  failed.catch(() => {});

  const onAbort = (): void => {
    pack.destroy(signal ? archivingCancelled(signal) : new Error('aborted'));
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const files = scan.entries.filter((e) => e.type === 'file');
  const totalFiles = files.length;
  const totalBytes = scan.totalBytes;
  let doneFiles = 0;
  let doneBytes = 0;
  let last: ArchiveProgress | undefined;
  const report = (final: boolean): void => {
    if (!onProgress) return;
    let percent = totalBytes === 0 ? 100 : Math.floor((doneBytes * 100) / totalBytes);
    if (!final && totalBytes > 0) percent = Math.min(percent, 99);
    if (final) percent = 100;
    if (last && !final && percent <= last.percent && doneBytes - last.bytes < PROGRESS_BYTES_STEP) return;
    if (last && last.percent === percent && last.bytes === doneBytes && last.files === doneFiles) return;
    last = { phase: 'archive', files: doneFiles, totalFiles, bytes: doneBytes, totalBytes, percent };
    onProgress({ ...last });
  };

  const guard = async <T>(p: Promise<T>): Promise<T> => Promise.race([p, failed]);
  const checkAbort = (): void => {
    if (signal?.aborted) throw archivingCancelled(signal);
    if (failure !== undefined) throw failure;
  };

  const waitPackBuffer = async (): Promise<void> => {
    const state = (pack as unknown as { _readableState?: { buffered?: number } })._readableState;
    let spins = 0;
    while (typeof state?.buffered === 'number' && state.buffered > PACK_BUFFER_LIMIT) {
      checkAbort();
      await guard(new Promise<void>((r) => (spins++ < 8 ? setImmediate(r) : setTimeout(r, 1))));
    }
  };

  const header = (e: ScannedEntry): Parameters<tar.Pack['entry']>[0] => {
    const common = { uid: 0, gid: 0, uname: '', gname: '', mtime: MTIME_ZERO, mode: e.mode };
    if (e.type === 'dir') return { ...common, name: `${e.path}/`, type: 'directory' };
    if (e.type === 'symlink') return { ...common, name: e.path, type: 'symlink', linkname: e.linkTarget ?? '' };
    return { ...common, name: e.path, type: 'file', size: e.size };
  };

  const openChecked = async (e: ScannedEntry): Promise<FileHandle> => {
    const abs = path.join(scan.root, e.path);
    let fh: FileHandle;
    try {
      fh = await archiveTestHooks.openFile(abs, OPEN_FLAGS);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new ActionError(`Cannot read build context file: ${e.path} (permission denied)`, {
          kind: 'context',
          advice: [
            'Make the file readable by the runner user,',
            `or exclude it from the build context in ${scan.ignoreFile ?? path.join(scan.root, '.dockerignore')}.`,
          ],
          cause: err,
        });
      }
      if (code === 'ENOENT') throw changed(e.path, e.size, 0);
      if (code === 'ELOOP' || code === 'ENXIO') throw noLongerFile(e.path, err);
      throw new ActionError(`Cannot read build context file: ${e.path} (${(err as Error).message})`, { kind: 'context', cause: err });
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw noLongerFile(e.path);
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
    return fh;
  };

  /** Reads from `pos` to EOF into `buf` (a short read only happens at EOF for regular files). */
  const readFull = async (fh: FileHandle, buf: Buffer, pos: number): Promise<number> => {
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, pos + n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return n;
  };

  /** Small files are read whole, ahead of the writer, one read of size+1 bytes (detects growth). */
  const readSmall = async (e: ScannedEntry): Promise<Buffer> => {
    const fh = await openChecked(e);
    try {
      const buf = Buffer.allocUnsafe(e.size + 1);
      const n = await readFull(fh, buf, 0);
      if (n > e.size) throw changed(e.path, e.size, Math.max(n, (await fh.stat()).size));
      if (n < e.size) throw changed(e.path, e.size, n);
      return buf.subarray(0, n);
    } finally {
      await fh.close().catch(() => {});
    }
  };

  const newEntry = (e: ScannedEntry): { entry: ReturnType<tar.Pack['entry']>; done: Promise<void> } => {
    let settle!: (err?: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      settle = (err) => (err ? rej(err) : res());
    });
    done.catch(() => {});
    const entry = pack.entry(header(e), (err) => settle(err));
    entry.on('error', () => {}); // failures surface through `done` and the pipeline
    return { entry, done };
  };

  const addSmall = async (e: ScannedEntry, data: Buffer): Promise<void> => {
    const { entry, done } = newEntry(e);
    if (data.length > 0 && !entry.write(data)) await guard(once(entry, 'drain').then(() => undefined));
    entry.end(null);
    await guard(done);
    doneBytes += data.length;
    doneFiles++;
    report(false);
  };

  const addLarge = async (e: ScannedEntry): Promise<void> => {
    const fh = await openChecked(e);
    try {
      const { entry, done } = newEntry(e);
      let pos = 0;
      while (pos < e.size) {
        checkAbort();
        const want = Math.min(READ_CHUNK, e.size - pos);
        const buf = Buffer.allocUnsafe(want);
        const n = await readFull(fh, buf, pos);
        if (n < want) throw changed(e.path, e.size, pos + n);
        pos += n;
        doneBytes += n;
        if (!entry.write(buf)) await guard(once(entry, 'drain').then(() => undefined));
        report(false);
      }
      // Did the file grow? Read a little past the end; report the size it has now.
      const probe = Buffer.allocUnsafe(64 * 1024);
      const { bytesRead: extra } = await fh.read(probe, 0, probe.length, pos);
      if (extra > 0) throw changed(e.path, e.size, Math.max(pos + extra, (await fh.stat()).size));
      entry.end(null);
      await guard(done);
    } finally {
      await fh.close().catch(() => {});
    }
    doneFiles++;
    report(false);
  };

  // Read-ahead of small files: bounded by count and bytes; results are consumed strictly in order.
  const entries = scan.entries;
  const ahead = new Map<number, Promise<Buffer>>();
  let nextAhead = 0;
  let aheadBytes = 0;
  const fillAhead = (from: number): void => {
    if (nextAhead < from) nextAhead = from;
    while (nextAhead < entries.length && ahead.size < READ_AHEAD_FILES && aheadBytes < READ_AHEAD_BYTES) {
      const i = nextAhead++;
      const e = entries[i];
      if (e.type !== 'file' || e.size > SMALL_FILE) continue;
      const pr = readSmall(e);
      pr.catch(() => {});
      ahead.set(i, pr);
      aheadBytes += e.size;
    }
  };

  let ok = false;
  try {
    report(false);
    for (let i = 0; i < entries.length; i++) {
      checkAbort();
      const e = entries[i];
      fillAhead(i);
      const pre = ahead.get(i);
      if (pre) {
        ahead.delete(i);
        aheadBytes -= e.size;
        await addSmall(e, await guard(pre));
      } else if (e.type === 'file') {
        await addLarge(e);
      } else {
        pack.entry(header(e)).on('error', () => {});
        await waitPackBuffer();
      }
    }
    checkAbort();
    pack.finalize();
    await done;
    checkAbort();
    report(true);
    ok = true;
  } catch (e) {
    if (!pack.destroyed) pack.destroy(e instanceof Error ? e : new Error(String(e)));
    await done.catch(() => {});
    throw toArchiveError(e, signal, outPath);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!ok) {
      await out.close().catch(() => {});
      await fsp.rm(outPath, { force: true }).catch(() => {});
    }
  }

  let fileCount = 0;
  let dirCount = 0;
  let symlinkCount = 0;
  for (const e of scan.entries) {
    if (e.type === 'file') fileCount++;
    else if (e.type === 'dir') dirCount++;
    else symlinkCount++;
  }
  return {
    path: outPath,
    compressedBytes: gzTap.bytes(),
    uncompressedBytes: tarTap.bytes(),
    fileCount,
    dirCount,
    symlinkCount,
    digest: `sha256:${tarTap.hash.digest('hex')}`,
    archiveDigest: `sha256:${gzTap.hash.digest('hex')}`,
    entries: scan.entries.map((e) => e.path),
    skipped: scan.skipped,
    ignoreFile: scan.ignoreFile,
    cleanup: async () => {
      await fsp.rm(outPath, { force: true });
    },
  };
}

function toArchiveError(e: unknown, signal: AbortSignal | undefined, outPath: string): ActionError {
  if (signal?.aborted) return isActionError(e) && e.kind === 'cancelled' ? e : archivingCancelled(signal);
  if (isActionError(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ActionError(`No space left to write the build context archive ${outPath}`, {
      kind: 'context',
      advice: ['Free disk space on the runner, or shrink the context with .dockerignore.'],
      cause: e,
    });
  }
  return new ActionError(`Cannot write the build context archive ${outPath}: ${msg}`, { kind: 'context', cause: e });
}
