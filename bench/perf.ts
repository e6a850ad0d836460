/**
 * The performance targets of `npm run bench` (see bench/README.md "Performance targets"):
 *
 * - `packaging`: the action's packaging (walk + .dockerignore + tar + gzip, written to a file: the
 *   bytes it uploads) in a child process bundled like dist/, against GNU tar (`tar -czf - … > file`)
 *   and `tar -cf - … | gzip -1 > file`, alternating, on 10k and 100k small files and 128 MiB and
 *   1 GiB mixed trees; time per 1k files / per 100 MiB for each.
 * - `e2e`: whole ext4 builds, the real SDK (native tensorlake@0.5.89) and the action
 *   (dist/index.js) alternating against one zero-delay simulator (builder line delay 0, sandbox
 *   pending 0), on 10k files, 96 MiB and 1 GiB contexts, whole process against whole process (the
 *   SDK also in this process, as a second row); the action's peak RSS.
 * - `coldstart`: spawn of dist/index.js → its first request at the simulator; dist/index.js size.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build as esbuild } from 'esbuild';
import { startSimulator } from '../simulator/index.js';
import type { SimulatorHandle } from '../simulator/types.js';
import { cleanupRun, DIST_MAIN, ROOT, runAction, SIM_KEY } from '../tools/action-runner.js';
import { loadNative } from '../tools/tensorlake-sdk.js';
import { median, type Measurement } from './lib.js';
import { makeTree, type Tree, type TreeName } from './trees.js';

const MiB = 1024 * 1024;

type Record = (r: Measurement) => void;

export interface PerfOptions {
  reps: number;
  /** repetitions for the 1 GiB trees (the anchors take long there) */
  bigReps: number;
  packaging: TreeName[];
  e2e: TreeName[];
  record: Record;
}

const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];

interface Timed {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  rssKiB?: number;
  cpuMs?: number;
}

/** Runs a command under `/usr/bin/time` (peak RSS, user+system CPU). */
function timed(cmd: string, args: string[], timeoutMs = 1_200_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'BENCH-TIME %M %U %S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      const m = /BENCH-TIME (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve({
        code,
        stdout,
        stderr,
        wallMs,
        rssKiB: m ? Number(m[1]) : undefined,
        cpuMs: m ? (Number(m[2]) + Number(m[3])) * 1000 : undefined,
      });
    });
  });
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

async function trees(root: string, names: TreeName[]): Promise<Map<TreeName, Tree>> {
  const out = new Map<TreeName, Tree>();
  for (const n of names) {
    const t0 = performance.now();
    out.set(n, await makeTree(root, n));
    console.log(`  generated ${n} in ${fmt((performance.now() - t0) / 1000)} s`);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// packaging

type Packer = 'action' | 'tar -czf' | 'tar | gzip -1';
const PACKERS: Packer[] = ['action', 'tar -czf', 'tar | gzip -1'];

async function packOnce(
  p: Packer,
  child: string,
  dir: string,
  out: string,
): Promise<{ ms: number; wallMs: number; cpuMs?: number; rssKiB?: number; bytes: number; digest?: string }> {
  if (p === 'action') {
    const r = await timed(process.execPath, [child, dir, out]);
    if (r.code !== 0) throw new Error(`archive child failed: ${r.stderr.slice(-2000)}`);
    const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; compressedBytes: number; digest: string };
    return { ms: j.ms, wallMs: r.wallMs, cpuMs: r.cpuMs, rssKiB: r.rssKiB, bytes: j.compressedBytes, digest: j.digest };
  }
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd =
    p === 'tar -czf'
      ? `tar -czf - ${TAR_FLAGS.join(' ')} -C ${q(dir)} . > ${q(out)}`
      : `tar -cf - ${TAR_FLAGS.join(' ')} -C ${q(dir)} . | gzip -1 > ${q(out)}`;
  const r = await timed('sh', ['-c', cmd]);
  if (r.code !== 0) throw new Error(`${p} failed: ${r.stderr.slice(-1000)}`);
  return { ms: r.wallMs, wallMs: r.wallMs, cpuMs: r.cpuMs, rssKiB: r.rssKiB, bytes: (await stat(out)).size };
}

async function benchPackaging(root: string, all: Map<TreeName, Tree>, o: PerfOptions): Promise<void> {
  console.log('\n# Packaging: the action (walk + .dockerignore + tar + gzip → file) vs GNU tar -czf and tar | gzip -1 (→ file)');
  const child = join(root, 'archive-child.cjs');
  await esbuild({
    entryPoints: [join(ROOT, 'bench', 'archive-child.ts')],
    outfile: child,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
  });
  const out = join(root, 'out.tar.gz');
  for (const name of o.packaging) {
    const t = all.get(name)!;
    const reps = name === 'mixed1g' ? o.bigReps : o.reps;
    const runs = new Map<Packer, Array<Awaited<ReturnType<typeof packOnce>>>>(PACKERS.map((p) => [p, []]));
    for (let i = 0; i < reps; i++) {
      // rotate the order so that drift (page cache, other load) does not favour one
      const order = PACKERS.map((_, k) => PACKERS[(k + i) % PACKERS.length]);
      for (const p of order) {
        const r = await packOnce(p, child, t.dir, out);
        runs.get(p)!.push(r);
        await rm(out, { force: true });
        console.log(
          `  ${name} ${p.padEnd(13)} #${i + 1}: ${fmt(r.ms / 1000)} s (cpu ${fmt((r.cpuMs ?? NaN) / 1000)} s, ${fmt(r.bytes / MiB)} MiB)`,
        );
      }
    }
    const med = (p: Packer, f: (r: Awaited<ReturnType<typeof packOnce>>) => number): number => median(runs.get(p)!.map(f));
    const action = med('action', (r) => r.ms);
    const digests = new Set(runs.get('action')!.map((r) => r.digest));
    const g = `packaging: ${t.label}`;
    const perUnit = name.startsWith('small')
      ? { unit: 'ms per 1k files', div: t.files / 1000, scale: 1 }
      : { unit: 's per 100 MiB', div: t.bytes / (100 * MiB), scale: 1 / 1000 };
    for (const p of PACKERS) {
      const ms = med(p, (r) => r.ms);
      o.record({
        group: g,
        name: `${p}${p === 'action' ? ' (in process)' : ''}: time`,
        value: ms / 1000,
        unit: 's',
        note: `median of ${reps}; ${fmt((ms * perUnit.scale) / perUnit.div)} ${perUnit.unit}; cpu ${fmt(med(p, (r) => r.cpuMs ?? NaN) / 1000)} s; peak RSS ${fmt(Math.max(...runs.get(p)!.map((r) => r.rssKiB ?? 0)) / 1024)} MiB; ${fmt(med(p, (r) => r.bytes) / MiB)} MiB out${p === 'action' ? `; process wall ${fmt(med(p, (r) => r.wallMs) / 1000)} s` : ''}`,
      });
    }
    const want = name === 'mixed1g' || name === 'mixed128' ? 1.5 : 1.0;
    const tarRatio = med('tar -czf', (r) => r.ms) / action;
    o.record({
      group: g,
      name: 'speed vs GNU tar -czf (tar time / action time)',
      value: tarRatio,
      unit: '×',
      ...(name === 'mixed128' ? {} : { target: `≥ ${want}×`, pass: tarRatio >= want }),
      note: `vs tar | gzip -1: ${fmt(med('tar | gzip -1', (r) => r.ms) / action)}×; by CPU time: ${fmt(med('tar -czf', (r) => r.cpuMs ?? NaN) / med('action', (r) => r.cpuMs ?? NaN))}× (tar) / ${fmt(med('tar | gzip -1', (r) => r.cpuMs ?? NaN) / med('action', (r) => r.cpuMs ?? NaN))}× (gzip -1)`,
    });
    o.record({
      group: g,
      name: 'action archive deterministic (same digest every run)',
      value: digests.size === 1 ? 1 : 0,
      unit: digests.size === 1 ? 'yes' : 'NO',
      target: 'yes',
      pass: digests.size === 1,
    });
  }
}

// ------------------------------------------------------------------------------------------
// whole builds: SDK vs action, zero-delay simulator

/**
 * Preload for the action process: its peak RSS at exit. VmHWM of /proc/self/status, not
 * resourceUsage().maxRSS: Linux carries ru_maxrss across fork and exec, so a child of this (large)
 * process would report at least the bench's own RSS.
 */
const RSS_PRELOAD = `process.on('exit', () => { try { const fs = require('node:fs'); const m = /VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8')); fs.writeFileSync(process.env.BENCH_RSS_FILE, m ? m[1] : String(process.resourceUsage().maxRSS)); } catch {} });\n`;

/** The SDK's build as a process: the native binding (SDK_NATIVE) with the options in SDK_OPTS. */
const SDK_CHILD = `const native = require(process.env.SDK_NATIVE);
native.buildSandboxImage(JSON.parse(process.env.SDK_OPTS), () => undefined).then(
  () => process.exit(0),
  (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); },
);
`;

async function benchE2E(root: string, all: Map<TreeName, Tree>, o: PerfOptions): Promise<void> {
  console.log('\n# Whole ext4 builds: the real SDK vs the action, zero-delay simulator (builder line delay 0, sandbox pending 0)');
  let native: ReturnType<typeof loadNative>['native'];
  let nativePath: string;
  try {
    ({ native, path: nativePath } = loadNative());
  } catch (e) {
    console.log(`  skipped: the SDK's native binding does not load here (${(e as Error).message.split('\n')[0]})`);
    return;
  }
  const preload = join(root, 'rss-preload.cjs');
  writeFileSync(preload, RSS_PRELOAD);
  const sim = await startSimulator({
    quiet: true,
    builderLineDelayMs: 0,
    sandboxPendingMs: 0,
    maxBodyBytes: 4 * 1024 * MiB,
    requestLogLimit: 100_000,
  });
  const tag = Date.now().toString(36);
  let n = 0;
  const sdk = async (t: Tree): Promise<number> => {
    const t0 = performance.now();
    await native.buildSandboxImage(
      {
        apiUrl: sim.url,
        bearerToken: SIM_KEY,
        dockerfilePath: join(t.dir, 'Dockerfile'),
        registeredName: `bench-sdk-${tag}-${n++}`,
        isPublic: false,
        namespace: 'default',
        useScopeHeaders: false,
        dockerCompat: false,
      },
      () => undefined,
    );
    return performance.now() - t0;
  };
  // the SDK as a process of its own, like the action: Node's start-up, loading the binding, the build, exit
  const sdkChild = join(root, 'sdk-child.cjs');
  writeFileSync(sdkChild, SDK_CHILD);
  const sdkProcess = async (t: Tree): Promise<number> => {
    const opts = {
      apiUrl: sim.url,
      bearerToken: SIM_KEY,
      dockerfilePath: join(t.dir, 'Dockerfile'),
      registeredName: `bench-sdkp-${tag}-${n++}`,
      isPublic: false,
      namespace: 'default',
      useScopeHeaders: false,
      dockerCompat: false,
    };
    const t0 = performance.now();
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [sdkChild], {
        cwd: t.dir,
        env: { PATH: process.env.PATH ?? '', SDK_NATIVE: nativePath, SDK_OPTS: JSON.stringify(opts) },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`SDK process failed (${r.code}): ${r.stderr.slice(-2000)}`);
    return ms;
  };
  const action = async (t: Tree): Promise<{ ms: number; rssKiB: number }> => {
    const rssFile = join(root, `rss-${n}`);
    const t0 = performance.now();
    const run = await runAction({
      workspace: t.dir,
      inputs: { 'api-key': SIM_KEY, 'api-url': sim.url, name: `bench-action-${tag}-${n++}` },
      env: { NODE_OPTIONS: `--require ${preload}`, BENCH_RSS_FILE: rssFile },
      timeoutMs: 1_200_000,
    });
    const ms = performance.now() - t0;
    try {
      if (run.code !== 0 || run.outputs.status !== 'registered')
        throw new Error(`action failed (${run.code}): ${run.stdout.slice(-3000)}\n${run.stderr}`);
    } finally {
      await cleanupRun(run);
    }
    const rssKiB = Number(await readFile(rssFile, 'utf8').catch(() => 'NaN'));
    return { ms, rssKiB };
  };
  try {
    for (const name of o.e2e) {
      const t = all.get(name)!;
      const reps = name === 'mixed1g' ? o.bigReps : o.reps;
      if (name !== 'mixed1g') {
        await sdk(t); // warm-up each: page cache, the SDK runtime, the simulator's JIT
        await sdkProcess(t);
        await action(t);
      }
      const s: number[] = [];
      const sp: number[] = [];
      const a: number[] = [];
      const rss: number[] = [];
      const clients = ['sdk process', 'action', 'sdk in bench'] as const;
      for (let i = 0; i < reps; i++) {
        // the order rotates every repetition, so that drift favours none
        for (const c of clients.map((_, k) => clients[(k + i) % clients.length])) {
          let ms: number;
          if (c === 'sdk in bench') s.push((ms = await sdk(t)));
          else if (c === 'sdk process') sp.push((ms = await sdkProcess(t)));
          else {
            const r = await action(t);
            a.push((ms = r.ms));
            rss.push(r.rssKiB);
          }
          console.log(`  ${name} ${c.padEnd(12)} #${i + 1}: ${fmt(ms / 1000)} s`);
        }
      }
      const ratio = median(a) / median(sp);
      const g = `e2e: ${t.label}`;
      o.record({
        group: g,
        name: 'SDK buildSandboxImage (own process): wall',
        value: median(sp) / 1000,
        unit: 's',
        note: `median of ${reps}: ${sp.map((x) => fmt(x / 1000)).join(', ')} s; node + the native binding, like the action's process`,
      });
      o.record({
        group: g,
        name: 'SDK buildSandboxImage (in the bench process): wall',
        value: median(s) / 1000,
        unit: 's',
        note: `median of ${reps}: ${s.map((x) => fmt(x / 1000)).join(', ')} s; no process start; action / this: ${fmt(median(a) / median(s))}×`,
      });
      o.record({
        group: g,
        name: 'action dist/index.js (process): wall',
        value: median(a) / 1000,
        unit: 's',
        note: `median of ${reps}: ${a.map((x) => fmt(x / 1000)).join(', ')} s`,
      });
      o.record({ group: g, name: 'action / SDK wall (process / process)', value: ratio, unit: '×', target: '≤ 0.8×', pass: ratio <= 0.8 });
      const peak = Math.max(...rss) / 1024;
      o.record({
        group: g,
        name: 'action peak RSS (whole process)',
        value: peak,
        unit: 'MiB',
        ...(name === 'mixed1g' ? { target: '≤ 200 MB (190.7 MiB)', pass: peak * MiB <= 200e6 } : {}),
        note: 'VmHWM of the action process at exit',
      });
    }
  } finally {
    await sim.stop();
  }
}

// ------------------------------------------------------------------------------------------
// cold start

async function benchColdStart(o: PerfOptions): Promise<void> {
  console.log('\n# Cold start: spawn of node dist/index.js → its first request at the simulator');
  const sim: SimulatorHandle = await startSimulator({ quiet: true, builderLineDelayMs: 0, sandboxPendingMs: 0 });
  const example = join(ROOT, 'examples', 'app');
  const firsts: number[] = [];
  try {
    const n = Math.max(5, o.reps * 3);
    for (let i = 0; i <= n; i++) {
      const before = sim.state().requests.length;
      const t0 = Date.now();
      const run = await runAction({ workspace: example, inputs: { 'api-key': SIM_KEY, 'api-url': sim.url, name: `bench-cold-${i}` } });
      await cleanupRun(run);
      if (run.code !== 0) throw new Error(`action failed: ${run.stdout.slice(-2000)}`);
      const first = sim.state().requests[before];
      if (i > 0) firsts.push(Date.parse(first.at) - t0); // the first run warms the page cache
    }
  } finally {
    await sim.stop();
  }
  // anchor: a bare node process's spawn → first output byte, in the same run (the machine's own start-up cost)
  const bare: number[] = [];
  for (let i = 0; i < firsts.length; i++) {
    bare.push(
      await new Promise<number>((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(process.execPath, ['-e', 'process.stdout.write("x")'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let first: number | undefined;
        child.stdout.on('data', () => (first ??= performance.now() - t0));
        child.on('error', reject);
        child.on('close', () => resolve(first ?? performance.now() - t0));
      }),
    );
  }
  const ms = median(firsts);
  o.record({
    group: 'cold start',
    name: `bare node: spawn → first output (median of ${bare.length}, anchor)`,
    value: median(bare),
    unit: 'ms',
  });
  o.record({
    group: 'cold start',
    name: `spawn → first request (median of ${firsts.length})`,
    value: ms,
    unit: 'ms',
    target: '≤ 150 ms',
    pass: ms <= 150,
    note: `each: ${firsts.join(', ')} ms (ms resolution: the simulator's request log)`,
  });
  const size = (await stat(DIST_MAIN)).size;
  o.record({ group: 'cold start', name: 'dist/index.js size', value: size / MiB, unit: 'MiB', target: '≤ 3 MiB', pass: size <= 3 * MiB });
}

export async function benchPerf(only: Set<string>, o: PerfOptions): Promise<void> {
  const need = new Set<TreeName>([...(only.has('packaging') ? o.packaging : []), ...(only.has('e2e') ? o.e2e : [])]);
  const root = await mkdtemp(join(tmpdir(), 'sbx-bench-perf-'));
  try {
    if (need.size) console.log(`\n# Generating trees in ${root}: ${[...need].join(', ')}`);
    const all = await trees(join(root, 'trees'), [...need]);
    if (only.has('packaging')) await benchPackaging(root, all, o);
    if (only.has('e2e')) await benchE2E(root, all, o);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  if (only.has('coldstart')) await benchColdStart(o);
}
