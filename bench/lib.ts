/**
 * Helpers shared by the soak (`bench/soak.ts`) and the benchmarks (`bench/run.ts`): a seeded PRNG,
 * flag parsing, log-group parsing of an action run, secret collection and small statistics.
 */
import type { SimState } from '../simulator/types.js';

/** mulberry32: a tiny, fast, seedable PRNG (deterministic plans from `--seed`). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rng {
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T;
  chance(p: number): boolean;
}

export function rng(seed: number): Rng {
  const next = prng(seed);
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    weighted: (items) => {
      const total = items.reduce((s, [, w]) => s + w, 0);
      let r = next() * total;
      for (const [v, w] of items) {
        if ((r -= w) < 0) return v;
      }
      return items[items.length - 1][0];
    },
    chance: (p) => next() < p,
  };
}

/** `--name value` / `--name=value` / `--flag` parsing with typed defaults. */
export function flags(argv: string[]): {
  num(name: string, def: number): number;
  str(name: string, def: string): string;
  bool(name: string): boolean;
} {
  const get = (name: string): string | undefined => {
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === `--${name}`) return argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[i + 1] : 'true';
      if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
    }
    return undefined;
  };
  return {
    num: (name, def) => {
      const v = get(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`--${name}: expected a number, got '${v}'`);
      return n;
    },
    str: (name, def) => get(name) ?? def,
    bool: (name) => {
      const v = get(name);
      return v !== undefined && v !== 'false' && v !== '0';
    },
  };
}

/** The plain (non-command) lines of each log group of a run's stdout, in order; `''` = outside any group. */
export function groupLines(stdout: string): Array<{ group: string; lines: string[] }> {
  const out: Array<{ group: string; lines: string[] }> = [{ group: '', lines: [] }];
  for (const line of stdout.split('\n')) {
    const m = /^::([a-z-]+)( [^:]*)?::(.*)$/.exec(line);
    if (m) {
      if (m[1] === 'group') out.push({ group: m[3], lines: [] });
      else if (m[1] === 'endgroup') out.push({ group: '', lines: [] });
      continue;
    }
    out[out.length - 1].lines.push(line);
  }
  return out.filter((g) => g.group !== '' || g.lines.some((l) => l !== ''));
}

/**
 * Lines of the action's own making inside the Build group (everything else there is the builder's
 * output, stderr lines prefixed `[stderr] `). Keep in sync with src/pipeline/pipeline.ts,
 * src/platform/process.ts and the retry notice of the transport.
 */
const ACTION_BUILD_LINES: RegExp[] = [
  /^Running offline rootfs builder\.\.\.$/,
  /^Build: (ok|failed|skipped) in [\d.]+s$/,
  /^process stream interrupted; reattaching to process \d+$/,
  /^process output stream ended before process \d+ exited; reattaching$/,
  /^process start attempt \d+ failed; looking for an already-started process$/,
  /^.+; retrying in \S+ \(attempt \d+\)$/,
  /^warning: /,
  /^Received SIG[A-Z]+: cancelling/,
];

export function builderLinesOf(stdout: string): string[] {
  const build = groupLines(stdout).filter((g) => g.group === 'Build');
  const lines = build.flatMap((g) => g.lines);
  return lines.filter((l) => !ACTION_BUILD_LINES.some((re) => re.test(l)));
}

/** Every signed URL (http(s) URL with a query string) in the simulator state, by build id ('' = unknown). */
export function signedUrls(state: SimState): Map<string, Set<string>> {
  const byBuild = new Map<string, Set<string>>();
  const add = (build: string, v: unknown): void => {
    const walk = (x: unknown): void => {
      if (typeof x === 'string') {
        if (/^https?:\/\/\S*\?/.test(x)) {
          let set = byBuild.get(build);
          if (!set) byBuild.set(build, (set = new Set()));
          set.add(x);
        }
      } else if (Array.isArray(x)) x.forEach(walk);
      else if (x && typeof x === 'object') Object.values(x).forEach(walk);
    };
    walk(v);
  };
  for (const b of state.builds) add(b.buildId, b);
  for (const sb of state.sandboxes) {
    for (const sp of sb.specs) {
      const buildId = (sp.spec as Record<string, unknown> | null)?.buildId;
      add(typeof buildId === 'string' ? buildId : '', sp.spec);
    }
  }
  return byBuild;
}

/** One benchmark measurement, as the table and results.json show it. */
export interface Measurement {
  group: string;
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
  note?: string;
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A fixed-width text table. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]): string =>
    r
      .map((c, i) => (c ?? '').padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [fmt(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(fmt)].join('\n');
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** The action's builder sandbox name for a build (`sbx-image-<build id>`, see README "Departures"); mirrored so the soak does not depend on src internals. */
export function builderSandboxName(buildId: string): string {
  const slug = buildId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `sbx-image-${slug}`.slice(0, 63).replace(/-+$/, '');
}
