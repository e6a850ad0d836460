/**
 * The size of a build context as `docker build` would send it (`.dockerignore` applied), and what
 * makes it big: its largest files and directories. Computed while planning, before any builder
 * sandbox exists, so an oversized context is reported (and warned about) before any work is done.
 */
import { formatBytes } from '../format.js';

/** Above this many bytes of files, planning warns that the context is large. */
export const LARGE_CONTEXT_BYTES = 500 * 1024 * 1024;
/** How many of the largest files and directories are reported. */
export const LARGEST_ENTRIES = 5;

export interface FootprintEntry {
  /** context-relative path; directories end in `/` */
  path: string;
  bytes: number;
}

export interface ContextFootprint {
  totalBytes: number;
  fileCount: number;
  largestFiles: FootprintEntry[];
  largestDirectories: FootprintEntry[];
}

type Entry = { path: string; type: 'file' | 'dir' | 'symlink'; size: number };

const bySize = (a: FootprintEntry, b: FootprintEntry): number => b.bytes - a.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** The footprint of a scanned context's entries (files' bytes summed into every directory above them). */
export function footprintOf(entries: readonly Entry[], limit = LARGEST_ENTRIES): ContextFootprint {
  const files: FootprintEntry[] = [];
  const dirs = new Map<string, number>();
  let totalBytes = 0;
  for (const e of entries) {
    if (e.type === 'dir') {
      if (!dirs.has(e.path)) dirs.set(e.path, 0);
      continue;
    }
    if (e.type !== 'file') continue;
    files.push({ path: e.path, bytes: e.size });
    totalBytes += e.size;
    for (let i = e.path.indexOf('/'); i >= 0; i = e.path.indexOf('/', i + 1)) {
      const dir = e.path.slice(0, i);
      dirs.set(dir, (dirs.get(dir) ?? 0) + e.size);
    }
  }
  return {
    totalBytes,
    fileCount: files.length,
    largestFiles: files.sort(bySize).slice(0, limit),
    largestDirectories: [...dirs]
      .map(([path, bytes]) => ({ path: `${path}/`, bytes }))
      .filter((d) => d.bytes > 0)
      .sort(bySize)
      .slice(0, limit),
  };
}

/** `a.bin (3.00 MiB), data/ (1.20 MiB)`: entries in words, human sizes. */
export function describeEntries(entries: readonly FootprintEntry[]): string {
  return entries.map((e) => `${e.path} (${formatBytes(e.bytes)})`).join(', ');
}

/** The largest directories and files together, largest first, without repeating a file a directory already names. */
export function largestEntries(f: ContextFootprint, limit = LARGEST_ENTRIES): FootprintEntry[] {
  const all = [...f.largestDirectories, ...f.largestFiles].sort(bySize);
  const out: FootprintEntry[] = [];
  for (const e of all) {
    if (out.length >= limit) break;
    // a directory holding nothing but the file already listed adds nothing
    if (out.some((o) => o.bytes === e.bytes && (o.path.startsWith(e.path) || e.path.startsWith(o.path)))) continue;
    out.push(e);
  }
  return out;
}
