/**
 * `tar -xzf <archive> -C <dir>` emulation: really gunzips and parses the uploaded archive and
 * extracts regular files, directories, symlinks and hard links into the sandbox filesystem,
 * with GNU tar's messages and exit status 2 on errors. Members containing `..` are refused;
 * leading `/` is stripped; symlinks are created last (GNU's delayed-symlink placeholders), so a
 * member cannot be written through a symlink from the same archive.
 */
import { closeSync, createReadStream, createWriteStream, openSync, readSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract, type Header } from 'tar-stream';
import { FsError, MemFs, SPILL_BYTES, type Owner, type Spill } from './memfs.js';
import type { ExtractedFile } from './types.js';

export interface TarResult {
  exitCode: number;
  stderr: string[];
  files: ExtractedFile[];
}

function within(root: string, p: string): boolean {
  return p === root || p.startsWith(root === '/' ? '/' : root + '/');
}

function readHead(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return b.subarray(0, readSync(fd, b, 0, 2, 0));
  } finally {
    closeSync(fd);
  }
}

export async function extractTarGz(fs: MemFs, archive: string, destIn: string, user: Owner): Promise<TarResult> {
  const stderr: string[] = [];
  const files: ExtractedFile[] = [];
  const fatal = (...lines: string[]): TarResult => ({ exitCode: 2, stderr: [...stderr, ...lines], files });
  let src: { data: Buffer } | Spill;
  try {
    src = fs.fileSource(archive);
  } catch (e) {
    const text = e instanceof FsError ? e.text : String(e);
    return fatal(
      `tar (child): ${archive}: Cannot open: ${text}`,
      'tar (child): Error is not recoverable: exiting now',
      'tar: Child returned status 2',
      'tar: Error is not recoverable: exiting now',
    );
  }
  let dest: string;
  try {
    dest = fs.resolve(destIn);
    const st = fs.stat(dest);
    if (!st) throw new FsError('ENOENT', destIn);
    if (st.type !== 'dir') throw new FsError('ENOTDIR', destIn);
  } catch (e) {
    return fatal(`tar: ${destIn}: Cannot open: ${e instanceof FsError ? e.text : String(e)}`, 'tar: Error is not recoverable: exiting now');
  }
  const magic = 'data' in src ? src.data.subarray(0, 2) : readHead(src.path);
  if (magic.length < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) {
    return fatal('gzip: stdin: not in gzip format', 'tar: Child returned status 1', 'tar: Error is not recoverable: exiting now');
  }

  let failed = false;
  let spillTaken = false;
  let warnedAbs = false;
  const delayed: Array<{ path: string; target: string; display: string; mode: number }> = [];
  const ensureParents = (rel: string): void => {
    const parts = rel.split('/');
    let cur = dest;
    for (const part of parts.slice(0, -1)) {
      cur = `${cur === '/' ? '' : cur}/${part}`;
      const node = fs.lstat(cur);
      if (node?.type === 'symlink') {
        const real = fs.resolve(cur);
        if (!within(dest, real)) throw new Error('escape');
        cur = real;
        continue;
      }
      if (!node) fs.mkdir(cur, { user, mode: 0o755 });
      else if (node.type !== 'dir') throw new FsError('ENOTDIR', cur);
    }
  };
  const apply = (h: Header, data: Buffer, spill?: Spill): void => {
    let name = h.name;
    if (name.startsWith('/')) {
      if (!warnedAbs) stderr.push("tar: Removing leading `/' from member names");
      warnedAbs = true;
      name = name.replace(/^\/+/, '');
    }
    const parts = name.split('/').filter((p: string) => p !== '' && p !== '.');
    if (parts.includes('..')) {
      stderr.push(`tar: ${h.name}: Member name contains '..'`);
      failed = true;
      return;
    }
    if (parts.length === 0) return;
    const rel = parts.join('/');
    const target = `${dest === '/' ? '' : dest}/${rel}`;
    const mode = (h.mode ?? 0o644) & 0o7777;
    try {
      ensureParents(rel);
      switch (h.type ?? 'file') {
        case 'directory': {
          const st = fs.lstat(target);
          if (st && st.type !== 'dir') fs.remove(target);
          if (!st || st.type !== 'dir') fs.mkdir(target, { user, mode });
          else fs.chmod(target, mode);
          files.push({ path: rel, type: 'directory', size: 0, mode });
          return;
        }
        case 'file':
        case 'contiguous-file': {
          const st = fs.lstat(target);
          if (st?.type === 'dir') throw new FsError('EISDIR', target);
          if (st) fs.remove(target);
          fs.writeFile(target, data, { user, mode, spill });
          spillTaken = spill !== undefined;
          files.push({ path: rel, type: 'file', size: spill ? spill.size : data.length, mode });
          return;
        }
        case 'symlink': {
          const st = fs.lstat(target);
          if (st && st.type !== 'dir') fs.remove(target);
          fs.writeFile(target, Buffer.alloc(0), { user, mode: 0 }); // placeholder until the end
          delayed.push({ path: target, target: h.linkname ?? '', display: rel, mode });
          return;
        }
        case 'link': {
          const lparts = (h.linkname ?? '')
            .replace(/^\/+/, '')
            .split('/')
            .filter((p: string) => p !== '' && p !== '.');
          const src = `${dest === '/' ? '' : dest}/${lparts.join('/')}`;
          let content: Buffer;
          try {
            if (lparts.includes('..')) throw new FsError('ENOENT', src);
            content = fs.readFile(src);
          } catch {
            stderr.push(`tar: ${h.name}: Cannot hard link to '${h.linkname ?? ''}': No such file or directory`);
            failed = true;
            return;
          }
          if (fs.lstat(target)) fs.remove(target);
          fs.writeFile(target, content, { user, mode });
          files.push({ path: rel, type: 'hardlink', size: content.length, mode, target: h.linkname ?? '' });
          return;
        }
        default:
          stderr.push(`tar: ${h.name}: Cannot mknod: Operation not permitted`);
          failed = true;
      }
    } catch (e) {
      if (e instanceof FsError) stderr.push(`tar: ${h.name}: Cannot open: ${e.text}`);
      else stderr.push(`tar: ${h.name}: Cannot open: member path escapes the extraction directory ${destIn}`);
      failed = true;
    }
  };

  // streamed: the archive is gunzipped and parsed as it is read; members larger than SPILL_BYTES
  // are written to host temp files instead of memory
  const ex = extract();
  const consume = (async (): Promise<void> => {
    for await (const entry of ex) {
      const h = entry.header;
      if ((h.type ?? 'file') === 'file' && (h.size ?? 0) > SPILL_BYTES) {
        const host = fs.spillPath();
        const hash = createHash('sha256');
        const tap = new Transform({
          transform(c: Buffer, _e, cb) {
            hash.update(c);
            cb(null, c);
          },
        });
        await pipeline(entry, tap, createWriteStream(host, { highWaterMark: 1024 * 1024 }));
        spillTaken = false;
        apply(h, Buffer.alloc(0), { path: host, size: h.size ?? 0, sha256: hash.digest('hex') });
        if (!spillTaken) rmSync(host, { force: true });
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      apply(h, Buffer.concat(chunks));
    }
  })();
  const input = 'data' in src ? Readable.from([src.data]) : createReadStream(src.path, { highWaterMark: 1024 * 1024 });
  const gunzip = createGunzip();
  let gzipError: Error | undefined;
  // zlib's own failures carry a Z_* code; a parse error from tar destroys the gunzip too, with its own error
  gunzip.on('error', (e: NodeJS.ErrnoException) => {
    if (String(e.code ?? '').startsWith('Z_')) gzipError ??= e;
  });
  const feed = pipeline(input, gunzip, ex).catch(() => undefined);
  try {
    await consume;
    await feed;
    if (gzipError) throw gzipError;
  } catch (e) {
    await feed;
    const err = gzipError ?? (e as Error);
    const msg = err.message;
    if (gzipError) {
      const gz = /unexpected end/i.test(msg)
        ? 'gzip: stdin: unexpected end of file'
        : 'gzip: stdin: invalid compressed data--format violated';
      return fatal(gz, 'tar: Child returned status 1', 'tar: Error is not recoverable: exiting now');
    }
    if (/unexpected end/i.test(msg))
      return fatal('tar: Unexpected EOF in archive', 'tar: Unexpected EOF in archive', 'tar: Error is not recoverable: exiting now');
    return fatal(
      'tar: This does not look like a tar archive',
      'tar: Skipping to next header',
      'tar: Exiting with failure status due to previous errors',
    );
  }
  for (const d of delayed) {
    try {
      if (fs.lstat(d.path)?.type === 'file') fs.remove(d.path);
      fs.symlink(d.target, d.path, { user });
      files.push({ path: d.display, type: 'symlink', size: 0, mode: 0o777, target: d.target });
    } catch (e) {
      stderr.push(`tar: ${d.display}: Cannot create symlink to '${d.target}': ${e instanceof FsError ? e.text : String(e)}`);
      failed = true;
    }
  }
  if (failed) {
    stderr.push('tar: Exiting with failure status due to previous errors');
    return { exitCode: 2, stderr, files };
  }
  return { exitCode: 0, stderr, files };
}
