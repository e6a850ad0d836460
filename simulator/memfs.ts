/**
 * The in-memory filesystem of one sandbox. Only what the build touches is modelled:
 * directories, regular files, symlinks, an owner (root or the sandbox user) and a mode,
 * with the single permission rule that matters for the build (§6.5): the sandbox user may
 * create entries only in directories it owns or that are world-writable.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';

export type Owner = 'root' | 'user';

export type FsNode =
  | { type: 'dir'; mode: number; owner: Owner; mtime: number }
  | { type: 'file'; mode: number; owner: Owner; mtime: number; data: Buffer; spill?: Spill }
  | { type: 'symlink'; mode: number; owner: Owner; mtime: number; target: string };

/**
 * A large file's bytes live in a host temp file instead of memory (uploads and extracted files
 * above `SPILL_BYTES`); `data` is then empty. The files are removed with the node, and all of them
 * when the sandbox's filesystem is disposed (sandbox terminated, simulator stopped).
 */
export interface Spill {
  path: string;
  size: number;
  /** hex sha256 of the bytes, when known (extracted files: the builder's image records it instead of the bytes) */
  sha256?: string;
}
export const SPILL_BYTES = 8 * 1024 * 1024;

export function fileSize(node: { data: Buffer; spill?: Spill }): number {
  return node.spill ? node.spill.size : node.data.length;
}

const ERRNO: Record<FsErrorCode, [number, string]> = {
  ENOENT: [2, 'No such file or directory'],
  EACCES: [13, 'Permission denied'],
  EEXIST: [17, 'File exists'],
  ENOTDIR: [20, 'Not a directory'],
  EISDIR: [21, 'Is a directory'],
  ELOOP: [40, 'Too many levels of symbolic links'],
  ENOTEMPTY: [39, 'Directory not empty'],
};
export type FsErrorCode = 'ENOENT' | 'EACCES' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ELOOP' | 'ENOTEMPTY';

export class FsError extends Error {
  constructor(
    readonly code: FsErrorCode,
    readonly path: string,
  ) {
    super(`${ERRNO[code][1]} (os error ${ERRNO[code][0]})`);
    this.name = 'FsError';
  }
  /** strerror text, e.g. "No such file or directory" */
  get text(): string {
    return ERRNO[this.code][1];
  }
}

export class MemFs {
  private readonly nodes = new Map<string, FsNode>();
  private spillDir?: string;
  private spillSeq = 0;

  /** A fresh host path for a spilled file (the directory is created on first use). */
  spillPath(): string {
    this.spillDir ??= mkdtempSync(join(tmpdir(), 'tl-sim-spill-'));
    return join(this.spillDir, String(++this.spillSeq));
  }

  /** Removes every spilled file (the sandbox is gone). */
  dispose(): void {
    if (this.spillDir) rmSync(this.spillDir, { recursive: true, force: true });
    this.spillDir = undefined;
  }

  private dropSpill(node: FsNode | undefined): void {
    if (node?.type === 'file' && node.spill) {
      try {
        unlinkSync(node.spill.path);
      } catch {
        // already gone (disposed)
      }
      node.spill = undefined;
    }
  }

  constructor() {
    const now = Date.now();
    for (const d of [
      '/',
      '/bin',
      '/etc',
      '/tmp',
      '/usr',
      '/usr/bin',
      '/usr/local',
      '/usr/local/bin',
      '/var',
      '/var/lib',
      '/var/lib/docker',
      '/var/lib/tensorlake',
    ]) {
      this.nodes.set(d, { type: 'dir', mode: d === '/tmp' ? 0o1777 : 0o755, owner: 'root', mtime: now });
    }
    for (const f of ['/bin/true', '/bin/sh', '/bin/mkdir', '/bin/chmod', '/bin/tar', '/usr/local/bin/tl-rootfs-build']) {
      this.nodes.set(f, { type: 'file', mode: 0o755, owner: 'root', mtime: now, data: Buffer.from('\x7fELF') });
    }
  }

  static normalize(p: string): string {
    const n = posix.normalize(p.startsWith('/') ? p : '/' + p);
    return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
  }

  /** node at the path, symlinks not followed for the last component (lstat) */
  lstat(p: string): FsNode | undefined {
    const real = this.resolveParent(p);
    return this.nodes.get(real);
  }

  /** node at the path, symlinks followed (stat) */
  stat(p: string): FsNode | undefined {
    try {
      return this.nodes.get(this.resolve(p));
    } catch {
      return undefined;
    }
  }

  exists(p: string): boolean {
    return this.stat(p) !== undefined;
  }

  /** real path with all symlinks resolved (throws ENOENT/ENOTDIR/ELOOP) */
  resolve(p: string, depth = 0): string {
    if (depth > 40) throw new FsError('ELOOP', p);
    const parts = MemFs.normalize(p).split('/').filter(Boolean);
    let cur = '/';
    for (let i = 0; i < parts.length; i++) {
      const next = cur === '/' ? `/${parts[i]}` : `${cur}/${parts[i]}`;
      const node = this.nodes.get(next);
      if (!node) {
        if (i === parts.length - 1) return next;
        throw new FsError('ENOENT', p);
      }
      if (node.type === 'symlink') {
        const target = node.target.startsWith('/') ? node.target : posix.join(cur, node.target);
        const rest = parts.slice(i + 1).join('/');
        return this.resolve(rest ? `${target}/${rest}` : target, depth + 1);
      }
      if (node.type === 'file' && i < parts.length - 1) throw new FsError('ENOTDIR', p);
      cur = next;
    }
    return cur;
  }

  /** path with the parent resolved but the last component kept (for lstat/unlink/symlink) */
  resolveParent(p: string): string {
    const n = MemFs.normalize(p);
    if (n === '/') return '/';
    const parent = this.resolve(posix.dirname(n));
    const base = posix.basename(n);
    return parent === '/' ? `/${base}` : `${parent}/${base}`;
  }

  private checkWritableDir(dir: string, user: Owner, p: string): void {
    const node = this.nodes.get(dir);
    if (!node) throw new FsError('ENOENT', p);
    if (node.type !== 'dir') throw new FsError('ENOTDIR', p);
    if (user === 'root') return;
    if (node.owner === 'user' || (node.mode & 0o002) !== 0) return;
    throw new FsError('EACCES', p);
  }

  mkdir(p: string, opts: { recursive?: boolean; user: Owner; mode?: number }): void {
    const n = MemFs.normalize(p);
    if (opts.recursive) {
      const parts = n.split('/').filter(Boolean);
      let cur = '';
      for (const part of parts) {
        cur += '/' + part;
        const st = this.stat(cur);
        if (st) {
          if (st.type !== 'dir') throw new FsError('ENOTDIR', cur);
          continue;
        }
        this.mkdir(cur, { user: opts.user, mode: opts.mode });
      }
      return;
    }
    const real = this.resolveParent(n);
    if (this.nodes.has(real)) throw new FsError('EEXIST', p);
    this.checkWritableDir(posix.dirname(real), opts.user, p);
    this.nodes.set(real, { type: 'dir', mode: opts.mode ?? 0o755, owner: opts.user, mtime: Date.now() });
  }

  /** Writes a file; with `spill`, its bytes are that host file (taken over: removed with the node) and `data` is ignored. */
  writeFile(p: string, data: Buffer, opts: { user: Owner; mode?: number; spill?: Spill }): void {
    const real = this.resolve(p);
    const existing = this.nodes.get(real);
    if (existing?.type === 'dir') throw new FsError('EISDIR', p);
    const spill = opts.spill;
    if (spill) data = Buffer.alloc(0);
    if (existing?.type === 'file') {
      if (opts.user !== 'root' && existing.owner !== 'user' && (existing.mode & 0o002) === 0) throw new FsError('EACCES', p);
      this.dropSpill(existing);
      existing.data = data;
      existing.spill = spill;
      existing.mtime = Date.now();
      if (opts.mode !== undefined) existing.mode = opts.mode;
      return;
    }
    this.checkWritableDir(posix.dirname(real), opts.user, p);
    this.nodes.set(real, {
      type: 'file',
      mode: opts.mode ?? 0o644,
      owner: opts.user,
      mtime: Date.now(),
      data,
      ...(spill ? { spill } : {}),
    });
  }

  symlink(target: string, p: string, opts: { user: Owner }): void {
    const real = this.resolveParent(p);
    if (this.nodes.has(real)) throw new FsError('EEXIST', p);
    this.checkWritableDir(posix.dirname(real), opts.user, p);
    this.nodes.set(real, { type: 'symlink', mode: 0o777, owner: opts.user, mtime: Date.now(), target });
  }

  readFile(p: string): Buffer {
    const real = this.resolve(p);
    const node = this.nodes.get(real);
    if (!node) throw new FsError('ENOENT', p);
    if (node.type === 'dir') throw new FsError('EISDIR', p);
    if (node.type !== 'file') throw new FsError('ENOENT', p);
    return node.spill ? readFileSync(node.spill.path) : node.data;
  }

  /** Where a file's bytes are, without loading a spilled file: its buffer, or its host path and size. */
  fileSource(p: string): { data: Buffer } | Spill {
    const real = this.resolve(p);
    const node = this.nodes.get(real);
    if (!node) throw new FsError('ENOENT', p);
    if (node.type === 'dir') throw new FsError('EISDIR', p);
    if (node.type !== 'file') throw new FsError('ENOENT', p);
    return node.spill ? { ...node.spill } : { data: node.data };
  }

  /** unlink a file or symlink, or remove a directory (recursively when asked) */
  remove(p: string, opts: { recursive?: boolean } = {}): void {
    const real = this.resolveParent(p);
    const node = this.nodes.get(real);
    if (!node) throw new FsError('ENOENT', p);
    if (node.type === 'dir') {
      const kids = [...this.nodes.keys()].filter((k) => k.startsWith(real === '/' ? '/' : real + '/') && k !== real);
      if (kids.length && !opts.recursive) throw new FsError('ENOTEMPTY', p);
      for (const k of kids) {
        this.dropSpill(this.nodes.get(k));
        this.nodes.delete(k);
      }
    }
    this.dropSpill(node);
    this.nodes.delete(real);
  }

  chmod(p: string, mode: number): void {
    const node = this.nodes.get(this.resolve(p));
    if (!node) throw new FsError('ENOENT', p);
    node.mode = mode;
  }

  /** all entries below a directory (not following symlinks), sorted, paths relative */
  walk(dir: string): Array<{ path: string; node: FsNode }> {
    const real = this.resolve(dir);
    const prefix = real === '/' ? '/' : real + '/';
    return [...this.nodes.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, node]) => ({ path: k.slice(prefix.length), node }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
