/**
 * The build context archive: a deterministic `tar.gz` written to a temp file.
 *
 * walk (`walk.ts`, sorted) → tar stream (headers written here, file data read straight into it) →
 * sha256 (`digest`) → cut into 1 MiB blocks → each block gzip-compressed on its own, several at
 * once on libuv's thread pool (more than one core) → concatenated in order → sha256
 * (`archiveDigest`) → `tensorlake-build-context-<random>.tar.gz` in `os.tmpdir()` (or `tmpDir`).
 * Concatenated gzip members are one valid `.tar.gz` (RFC 1952 §2.2; GNU tar, `gzip -d` and zlib
 * read them as one stream). Only the entry list and a few blocks in flight are held in memory.
 *
 * Compression (docs/protocol.md §2.9): gzip level 1 by default (`gzipLevel`), as
 * the reference client uses: on a CI runner the archive is CPU-bound and level 6 costs about three
 * times the CPU for roughly 10 % fewer bytes on source text. Each 64 KiB piece of a block whose
 * sampled byte entropy (first 1 KiB) is above 7.2 bits/byte (random, already-compressed data) goes into a stored
 * member (level 0) instead: deflating it gains nothing and costs as much as text.
 *
 * Determinism: entries sorted by the byte order of their UTF-8 path (directories before their
 * contents), uid/gid 0, empty uname/gname, mtime 0, modes normalised (dirs 0755, files 0755 when
 * any execute bit is set else 0644, symlinks 0777), ustar headers with pax records for long or
 * non-ASCII paths and link targets (byte for byte what tar-stream writes), 1024 zero bytes at the
 * end. Block boundaries are fixed offsets of the tar stream and the stored/deflated choice depends
 * only on the bytes, so the same tree gives the same archive whatever the timing. `digest` — the
 * build's `context-digest` — is the sha256 of the *uncompressed* tar stream, so it does not depend
 * on the gzip level, the block size or the zlib build; `archiveDigest` is the sha256 of the bytes
 * uploaded and is the same for the same level and zlib build.
 *
 * `uncompressedBytes` is the size of the tar stream (headers and padding included: what `digest`
 * covers); the sum of file sizes is the progress `totalBytes`.
 *
 * Files are opened with O_NOFOLLOW|O_NONBLOCK and must be the inode the walk saw (device and inode
 * compared after the open): a file replaced by a symlink after the walk is never followed, a
 * directory of the context swapped for a symlink to somewhere else is not read through (the file
 * reached through it is another inode), and a file replaced by a FIFO cannot block the run. A file
 * whose size differs from the walk's → `Build context file changed while archiving: <path>
 * (expected <n>, read <m>)`; nothing is retried.
 *
 * Over 350 lines on purpose: the tar writer and the parallel gzip share one pipeline and its
 * back-pressure; splitting them would spread one data flow over two files.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ActionError, isActionError } from '../errors.js';
import { archivingCancelled, scanContext, type ScanResult, type ScannedEntry, type SkippedEntry } from './walk.js';

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
  /** the largest regular files, biggest first (at most LARGEST_FILES; ties by path) */
  largestFiles: { path: string; bytes: number }[];
  skipped: SkippedEntry[];
  ignoreFile?: string;
  cleanup(): Promise<void>;
}

export const LARGEST_FILES = 5;

function largestFiles(entries: ScannedEntry[]): { path: string; bytes: number }[] {
  const top: ScannedEntry[] = [];
  for (const e of entries) {
    if (e.type !== 'file') continue;
    if (top.length === LARGEST_FILES && e.size <= top[top.length - 1].size) continue;
    top.push(e);
    top.sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
    if (top.length > LARGEST_FILES) top.pop();
  }
  return top.map((e) => ({ path: e.path, bytes: e.size }));
}

export interface ContextArchiveOptions {
  dockerfilePath?: string;
  tmpDir?: string;
  onProgress?: (p: ArchiveProgress) => void;
  signal?: AbortSignal;
  /** 0–9; default 1 (see the module comment) */
  gzipLevel?: number;
  /**
   * The context as walked earlier (planning walks it to measure it) with the same `dockerfilePath`
   * and `tmpDir` as output directory: archived without walking it again. Every file is still
   * checked to be the inode that walk saw, so anything replaced since fails as "changed".
   */
  walk?: ScanResult;
}

/** Test seam: how files are opened (lets tests simulate EACCES when running as root). Returns a descriptor. */
export const archiveTestHooks: { openFile: (p: string, flags: number) => number } = {
  openFile: (p, flags) => fs.openSync(p, flags),
};

export const DEFAULT_GZIP_LEVEL = 1;
/** The tar stream is compressed in blocks of this size, each on its own (one or more gzip members). */
export const BLOCK_BYTES = 1024 * 1024;
/** Unit of the stored-or-deflated choice inside a block. */
const PIECE_BYTES = 64 * 1024;
/** Bytes of each piece sampled for its entropy, and the entropy (bits per byte) above which it is stored. */
const SAMPLE_BYTES = 1024;
const STORED_ENTROPY = 7.2;
/** Blocks being compressed at once (libuv's pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise). */
const IN_FLIGHT = Math.max(2, Math.min(8, (os.availableParallelism?.() ?? os.cpus().length) + 1));
/** The archiver yields to the event loop after this much synchronous work. */
const YIELD_MS = 8;
const PROGRESS_BYTES_STEP = 64 * 1024 * 1024;
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

// ------------------------------------------------------------------------------------------
// tar headers (ustar + pax, the bytes tar-stream writes)

const HEADER_TEMPLATE = (() => {
  const b = Buffer.alloc(512);
  const field = (text: string, at: number): void => void b.write(text, at, 'latin1');
  field('000000 ', 108); // uid 0
  field('000000 ', 116); // gid 0
  field('00000000000 ', 136); // mtime 0
  field('ustar', 257); // magic "ustar\0" (the NUL is already there), version "00"
  field('00', 263);
  field('000000 ', 329); // devmajor
  field('000000 ', 337); // devminor
  return b;
})();
const SEVENS = '77777777777';

function octal(val: number, n: number): string {
  const s = val.toString(8);
  return s.length > n ? `${SEVENS.slice(0, n)} ` : `${'0'.repeat(n - s.length)}${s} `;
}

/** The checksum of HEADER_TEMPLATE with its checksum field read as spaces: every header starts from it. */
const TEMPLATE_SUM = (() => {
  let sum = 8 * 32;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += HEADER_TEMPLATE[i];
  return sum;
})();

function sumOf(b: Buffer, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += b[i];
  return sum;
}

/**
 * Writes one ustar header block into `b` at `at` (512 zero bytes there), or returns false (and
 * writes nothing) when the entry needs a pax record: a non-ASCII or long name, a long link target.
 * The checksum adds the template's sum to the bytes written, instead of summing 512 bytes.
 */
function writeUstarHeader(
  b: Buffer,
  at: number,
  name: string,
  mode: number,
  size: number,
  typeflag: string,
  linkname: string | undefined,
): boolean {
  if (Buffer.byteLength(name) !== name.length) return false;
  let prefix = '';
  while (name.length > 100) {
    const i = name.indexOf('/');
    if (i === -1) return false;
    prefix += prefix ? `/${name.slice(0, i)}` : name.slice(0, i);
    name = name.slice(i + 1);
  }
  if (name.length > 100 || prefix.length > 155) return false;
  const linkBytes = linkname ? Buffer.byteLength(linkname) : 0;
  if (linkBytes > 100) return false;
  b.set(HEADER_TEMPLATE, at);
  b.write(name, at, 'latin1');
  b.write(octal(mode & 0o7777, 6), at + 100, 'latin1');
  if (size.toString(8).length > 11) {
    b[at + 124] = 0x80;
    let num = size;
    for (let i = 11; i > 0; i--) {
      b[at + 124 + i] = num & 0xff;
      num = Math.floor(num / 0x100);
    }
  } else b.write(octal(size, 11), at + 124, 'latin1');
  b.write(typeflag, at + 156, 'latin1');
  if (linkname) b.write(linkname, at + 157, 'utf8');
  if (prefix) b.write(prefix, at + 345, 'latin1');
  const sum =
    TEMPLATE_SUM +
    sumOf(b, at, at + name.length) +
    sumOf(b, at + 100, at + 108) +
    sumOf(b, at + 124, at + 136) +
    b[at + 156] +
    sumOf(b, at + 157, at + 157 + linkBytes) +
    sumOf(b, at + 345, at + 345 + prefix.length);
  b.write(octal(sum, 6), at + 148, 'latin1');
  return true;
}

/** One ustar header block (a new buffer); for the pax headers, which are rare. */
function ustarHeader(name: string, mode: number, size: number, typeflag: string, linkname: string | undefined): Buffer {
  const b = Buffer.alloc(512);
  if (!writeUstarHeader(b, 0, name, mode, size, typeflag, linkname)) throw new Error(`internal error: no ustar header for ${name}`);
  return b;
}

function paxRecord(key: string, value: string): string {
  const str = ` ${key}=${value}\n`;
  const len = Buffer.byteLength(str);
  let digits = Math.floor(Math.log(len) / Math.log(10)) + 1;
  if (len + digits >= Math.pow(10, digits)) digits++;
  return `${len + digits}${str}`;
}

function headerFields(e: ScannedEntry): { name: string; typeflag: string; size: number; link: string | undefined } {
  return {
    name: e.type === 'dir' ? `${e.path}/` : e.path,
    typeflag: e.type === 'dir' ? '5' : e.type === 'symlink' ? '2' : '0',
    size: e.type === 'file' ? e.size : 0,
    link: e.type === 'symlink' ? e.linkTarget || undefined : undefined,
  };
}

/** The pax form of an entry's header: a pax header, its records padded, then the entry header. */
function paxEntryHeader(e: ScannedEntry): Buffer[] {
  const { name, typeflag, size, link } = headerFields(e);
  const records = Buffer.from(paxRecord('path', name) + (link ? paxRecord('linkpath', link) : ''));
  const paxLink = link ? 'PaxHeader' : undefined;
  const pad = (512 - (records.length % 512)) % 512;
  return [
    ustarHeader('PaxHeader', e.mode, records.length, 'x', paxLink),
    records,
    Buffer.alloc(pad),
    ustarHeader('PaxHeader', e.mode, size, typeflag, paxLink),
  ];
}

// ------------------------------------------------------------------------------------------
// block compression

/** Shannon entropy (bits per byte) of a sample from the start of `piece`. */
function entropy(piece: Buffer): number {
  const n = Math.min(piece.length, SAMPLE_BYTES);
  const counts = new Uint32Array(256);
  for (let i = 0; i < n; i++) counts[piece[i]]++;
  let h = 0;
  for (let i = 0; i < 256; i++) {
    const c = counts[i];
    if (c) {
      const p = c / n;
      h -= p * Math.log2(p);
    }
  }
  return h;
}

/** Runs of a block with the same choice: `[start, end, stored]`. Small pieces are always deflated. */
export function blockRuns(block: Buffer): Array<[number, number, boolean]> {
  const runs: Array<[number, number, boolean]> = [];
  for (let off = 0; off < block.length; off += PIECE_BYTES) {
    const end = Math.min(block.length, off + PIECE_BYTES);
    const piece = block.subarray(off, end);
    const stored = piece.length >= SAMPLE_BYTES && entropy(piece) > STORED_ENTROPY;
    const last = runs[runs.length - 1];
    if (last && last[2] === stored) last[1] = end;
    else runs.push([off, end, stored]);
  }
  return runs;
}

function gzip(data: Buffer, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // one output buffer big enough for the whole member: one trip to the thread pool
    zlib.gzip(data, { level, chunkSize: Math.max(64 * 1024, data.length + 8192) }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

async function compressBlock(block: Buffer, level: number): Promise<Buffer[]> {
  if (level === 0) return [await gzip(block, 0)];
  return Promise.all(blockRuns(block).map(([s, e, stored]) => gzip(block.subarray(s, e), stored ? 0 : level)));
}

// ------------------------------------------------------------------------------------------

function noLongerFile(rel: string, cause?: unknown): ActionError {
  return new ActionError(`Build context file changed while archiving: ${rel} (it is no longer a regular file)`, {
    kind: 'context',
    advice: ['Do not modify the build context while the action runs.'],
    cause,
  });
}

function gone(rel: string, cause: unknown): ActionError {
  return new ActionError(`Build context file changed while archiving: ${rel} (it was deleted or moved after the context was listed)`, {
    kind: 'context',
    advice: ['Do not delete or move files in the build context while the action runs, or exclude them in .dockerignore.'],
    cause,
  });
}

function notTheWalkedFile(rel: string): ActionError {
  return new ActionError(`Build context file changed while archiving: ${rel} (it is no longer the file that was walked)`, {
    kind: 'context',
    advice: [
      'A file or one of its parent directories was replaced (for example by a symlink) after the context was listed; do not modify the build context while the action runs.',
    ],
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

/** Reads from `pos` into `buf[off, off+len)` until full or EOF; returns the bytes read. */
function readFull(fd: number, buf: Buffer, off: number, len: number, pos: number): number {
  let n = 0;
  while (n < len) {
    const r = fs.readSync(fd, buf, off + n, len - n, pos + n);
    if (r === 0) break;
    n += r;
  }
  return n;
}

export async function createContextArchive(contextDir: string, opts: ContextArchiveOptions = {}): Promise<ContextArchive> {
  const { signal, onProgress } = opts;
  if (signal?.aborted) throw archivingCancelled(signal);
  const level = opts.gzipLevel ?? DEFAULT_GZIP_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ActionError(`Invalid gzip level ${level}: use an integer from 0 to 9`, { kind: 'internal' });
  }
  const tmpDir = path.resolve(opts.tmpDir ?? os.tmpdir());
  if (opts.walk && opts.walk.root !== path.resolve(contextDir)) {
    throw new ActionError(`internal error: the walk given is of ${opts.walk.root}, not of ${contextDir}`, { kind: 'internal' });
  }
  const scan = opts.walk ?? (await scanContext(contextDir, { dockerfilePath: opts.dockerfilePath, outputDir: tmpDir, signal }));
  if (signal?.aborted) throw archivingCancelled(signal);

  const outPath = path.join(tmpDir, `tensorlake-build-context-${randomBytes(8).toString('hex')}.tar.gz`);
  let out: number;
  try {
    out = fs.openSync(outPath, 'wx', 0o600);
  } catch (e) {
    throw new ActionError(`Cannot create the build context archive in ${tmpDir}: ${(e as Error).message}`, {
      kind: 'context',
      advice: ['Check that the temp directory exists and is writable (RUNNER_TEMP / TMPDIR).'],
      cause: e,
    });
  }

  const entries = scan.entries;
  let totalFiles = 0;
  for (const e of entries) if (e.type === 'file') totalFiles++;
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
  const checkAbort = (): void => {
    if (signal?.aborted) throw archivingCancelled(signal);
  };

  // the tar stream, in blocks; full blocks are hashed and handed to the thread pool in order
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let tarBytes = 0;
  let gzBytes = 0;
  let block = Buffer.alloc(BLOCK_BYTES);
  let used = 0;
  const jobs: Array<Promise<Buffer[]>> = [];
  const flush = (): void => {
    if (used === 0) return;
    const data = used === block.length ? block : block.subarray(0, used);
    tarHash.update(data);
    tarBytes += used;
    const job = compressBlock(data, level);
    job.catch(() => {});
    jobs.push(job);
    block = Buffer.alloc(BLOCK_BYTES);
    used = 0;
  };
  const writeHead = async (): Promise<void> => {
    const members = await jobs[0];
    void jobs.shift(); // the job awaited just above
    for (const m of members) {
      gzHash.update(m);
      gzBytes += m.length;
      let off = 0;
      while (off < m.length) off += fs.writeSync(out, m, off, m.length - off);
    }
  };
  let sliceStart = performance.now();
  /** Backpressure (at most IN_FLIGHT blocks compressing) and a yield to the event loop now and then. */
  const pump = async (): Promise<void> => {
    while (jobs.length >= IN_FLIGHT) await writeHead();
    if (performance.now() - sliceStart >= YIELD_MS) {
      await new Promise<void>((r) => setImmediate(r));
      sliceStart = performance.now();
    }
    checkAbort();
  };
  /** Appends bytes (headers, pax records) to the stream. */
  const put = (b: Buffer): void => {
    let off = 0;
    while (off < b.length) {
      const n = b.copy(block, used, off);
      used += n;
      off += n;
      if (used === block.length) flush();
    }
  };
  /** An entry's header: in place in the block (the usual case), or its pax form through put(). */
  const header = (e: ScannedEntry): void => {
    const { name, typeflag, size, link } = headerFields(e);
    // `used` is 512-aligned here and a full block is flushed at once, so 512 bytes are free
    if (writeUstarHeader(block, used, name, e.mode, size, typeflag, link)) {
      used += 512;
      if (used === block.length) flush();
    } else for (const h of paxEntryHeader(e)) put(h);
  };
  /** Zero padding to the next 512-byte boundary (blocks start zeroed and are 512-aligned). */
  const pad512 = (): void => {
    used += (512 - (used % 512)) % 512;
    if (used === block.length) flush();
  };

  const openChecked = (e: ScannedEntry): number => {
    // realRoot is absolute and never the filesystem root; e.path is relative and normalised
    const abs = `${scan.realRoot}/${e.path}`;
    let fd: number;
    try {
      fd = archiveTestHooks.openFile(abs, OPEN_FLAGS);
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
      if (code === 'ENOENT') throw gone(e.path, err);
      if (code === 'ELOOP' || code === 'ENXIO') throw noLongerFile(e.path, err);
      throw new ActionError(`Cannot read build context file: ${e.path} (${(err as Error).message})`, { kind: 'context', cause: err });
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw noLongerFile(e.path);
      if (e.ino !== undefined && (st.ino !== e.ino || st.dev !== e.dev)) throw notTheWalkedFile(e.path);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return fd;
  };

  /** A file's data into the stream; the read past the end (one byte) detects a file that grew. */
  const addFile = async (e: ScannedEntry): Promise<void> => {
    const fd = openChecked(e);
    try {
      header(e);
      if (block.length - used > e.size) {
        // fits the current block with a byte to spare: one read
        const n = readFull(fd, block, used, e.size + 1, 0);
        if (n > e.size) throw changed(e.path, e.size, Math.max(n, fs.fstatSync(fd).size));
        if (n < e.size) throw changed(e.path, e.size, n);
        block[used + e.size] = 0;
        used += e.size;
        doneBytes += e.size;
      } else {
        let pos = 0;
        while (pos < e.size) {
          const want = Math.min(block.length - used, e.size - pos);
          const n = readFull(fd, block, used, want, pos);
          used += n;
          pos += n;
          doneBytes += n;
          if (n < want) throw changed(e.path, e.size, pos);
          if (used === block.length) {
            flush();
            report(false);
            await pump();
          }
        }
        const probe = Buffer.allocUnsafe(1);
        if (fs.readSync(fd, probe, 0, 1, pos) > 0) throw changed(e.path, e.size, Math.max(pos + 1, fs.fstatSync(fd).size));
      }
      pad512();
    } finally {
      fs.closeSync(fd);
    }
    doneFiles++;
    report(false);
  };

  let ok = false;
  try {
    report(false);
    for (const e of entries) {
      checkAbort();
      if (e.type === 'file') await addFile(e);
      else header(e);
      if (jobs.length >= IN_FLIGHT || performance.now() - sliceStart >= YIELD_MS) await pump();
    }
    checkAbort();
    put(Buffer.alloc(1024)); // end of archive
    flush();
    while (jobs.length) await writeHead();
    fs.closeSync(out);
    checkAbort();
    report(true);
    ok = true;
  } catch (e) {
    await Promise.allSettled(jobs);
    throw toArchiveError(e, signal, outPath);
  } finally {
    if (!ok) {
      try {
        fs.closeSync(out);
      } catch {
        // already closed
      }
      fs.rmSync(outPath, { force: true });
    }
  }

  let fileCount = 0;
  let dirCount = 0;
  let symlinkCount = 0;
  for (const e of entries) {
    if (e.type === 'file') fileCount++;
    else if (e.type === 'dir') dirCount++;
    else symlinkCount++;
  }
  return {
    path: outPath,
    compressedBytes: gzBytes,
    uncompressedBytes: tarBytes,
    fileCount,
    dirCount,
    symlinkCount,
    digest: `sha256:${tarHash.digest('hex')}`,
    archiveDigest: `sha256:${gzHash.digest('hex')}`,
    entries: entries.map((e) => e.path),
    largestFiles: largestFiles(entries),
    skipped: scan.skipped,
    ignoreFile: scan.ignoreFile,
    cleanup: async () => {
      await fs.promises.rm(outPath, { force: true });
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
