/**
 * The real Tensorlake SDK beside the action (`npm run bench -- --only sdk [--reps N]`).
 *
 * Both clients build the same image (an ext4 base build of examples/app, API key auth) against the
 * same in-process simulator (default timings, `quiet: true`), alternately, N times each after one
 * warm-up each:
 *
 * - the SDK: the native binding of the npm package tensorlake@0.5.89, loaded directly like
 *   `__tests__/simulator/conformance.test.ts` does (its JS entry does not import on Node 20), called
 *   in this process: `buildSandboxImage(...)`, wall time from the call to the resolved promise;
 * - the action: `dist/index.js` as a separate Node process (`tools/action-runner.ts`), wall time of
 *   the process (so it includes Node's start-up and module loading, which the SDK call does not).
 *
 * The simulator's request log (`state().requests`, each with `at` and `durationMs`) gives, for each
 * build, the same phases for both clients (see `phasesOf`) plus request counts, the uploaded archive
 * size (the PUT's content-length) and whether each request asked to close its connection.
 */
import { join } from 'node:path';
import { startSimulator } from '../simulator/index.js';
import type { RequestLogEntry, SimulatorHandle, SimState } from '../simulator/types.js';
import { cleanupRun, ROOT, runAction, SIM_KEY } from '../tools/action-runner.js';
import { builderLinesOf, median, table } from './lib.js';
import { loadNative, type NativeBinding, type NativeEvent } from '../tools/tensorlake-sdk.js';

// ------------------------------------------------------------------------------------------
// phases from the request log

type Client = 'sdk' | 'action';
const CLIENTS: Client[] = ['sdk', 'action'];

/** Phase durations (ms) of one build, all from the simulator's request log. */
export interface Phases {
  /** first request (introspect) → sandbox create request */
  toCreate: number;
  /** sandbox create → first proxy request: the sandbox wait (status polls) */
  sandboxWait: number;
  /** first proxy request → upload start: health check, blob/sign, mkdir/chmod of the build dir */
  setup: number;
  /** the PUT context.tar.gz request's duration */
  upload: number;
  /** upload end → builder process start: mkdir, tar -xzf, archive delete, spec.json PUT */
  extract: number;
  /** builder process start request → metadata GET */
  builderRun: number;
  /** metadata GET → end of the complete request */
  complete: number;
  /** end of complete → end of the sandbox DELETE */
  cleanup: number;
  /** first request start → last request end */
  span: number;
  /** median idle time between one request's end and the next one's start (the client's own work per call) */
  gap: number;
}
const PHASES: Array<[keyof Phases, string]> = [
  ['toCreate', 'first request → sandbox create'],
  ['sandboxWait', 'sandbox create → first proxy request (sandbox wait)'],
  ['setup', 'first proxy request → upload (health, sign, mkdir)'],
  ['upload', 'upload (PUT context.tar.gz duration)'],
  ['extract', 'upload → builder start (untar, spec)'],
  ['builderRun', 'builder run (process start → metadata GET)'],
  ['complete', 'complete (metadata GET → complete answered)'],
  ['cleanup', 'cleanup (sandbox DELETE)'],
  ['span', 'first request → last response (server-visible)'],
  ['gap', 'median gap between requests (response end → next request)'],
];

export interface Counts {
  requests: number;
  platform: number;
  lifecycle: number;
  proxy: number;
  /** GET of the sandbox (lifecycle) */
  sandboxPolls: number;
  /** GET /api/v1/processes/<pid> */
  processPolls: number;
  /** POST /api/v1/processes */
  processStarts: number;
  /** GET /api/v1/processes/<pid>/output/follow */
  followStreams: number;
  /** requests sent with `Connection: close` (a new TCP connection each) */
  connectionClose: number;
  /** not 2xx, apart from the expected 404 of the base-image template lookup */
  errors: number;
}

const t = (q: RequestLogEntry): number => Date.parse(q.at);
const end = (q: RequestLogEntry): number => Date.parse(q.at) + q.durationMs;
const bare = (q: RequestLogEntry): string => q.path.split('?')[0];

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`sdk bench: no ${what} in the request log`);
  return v;
}

export function phasesOf(reqs: RequestLogEntry[]): Phases {
  const first = must(reqs[0], 'request');
  const create = must(
    reqs.find((q) => q.method === 'POST' && q.role === 'lifecycle' && /\/sandboxes$/.test(bare(q))),
    'sandbox create',
  );
  const firstProxy = must(
    reqs.find((q) => q.role === 'proxy'),
    'proxy request',
  );
  const put = must(
    reqs.find((q) => q.method === 'PUT' && q.path.includes('context.tar.gz')),
    'PUT context.tar.gz',
  );
  const metaIdx = reqs.findIndex((q) => q.method === 'GET' && q.path.includes('metadata.json'));
  const meta = must(reqs[metaIdx], 'metadata GET');
  const builder = must(
    reqs
      .slice(0, metaIdx)
      .reverse()
      .find((q) => q.method === 'POST' && bare(q) === '/api/v1/processes'),
    'builder process start',
  );
  const complete = must(
    reqs.find((q) => q.method === 'POST' && bare(q).endsWith('/complete')),
    'complete',
  );
  const del = must(
    reqs.find((q) => q.method === 'DELETE' && q.role === 'lifecycle'),
    'sandbox DELETE',
  );
  return {
    toCreate: t(create) - t(first),
    sandboxWait: t(firstProxy) - t(create),
    setup: t(put) - t(firstProxy),
    upload: put.durationMs,
    extract: t(builder) - end(put),
    builderRun: t(meta) - t(builder),
    complete: end(complete) - t(meta),
    cleanup: end(del) - end(complete),
    span: Math.max(...reqs.map(end)) - t(first),
    gap: median(reqs.slice(1).map((q, i) => Math.max(0, t(q) - end(reqs[i])))),
  };
}

export function countsOf(reqs: RequestLogEntry[]): Counts {
  const n = (p: (q: RequestLogEntry) => boolean): number => reqs.filter(p).length;
  return {
    requests: reqs.length,
    platform: n((q) => q.role === 'platform'),
    lifecycle: n((q) => q.role === 'lifecycle'),
    proxy: n((q) => q.role === 'proxy'),
    sandboxPolls: n((q) => q.method === 'GET' && q.role === 'lifecycle' && /\/sandboxes\/[^/]+$/.test(bare(q))),
    processPolls: n((q) => q.method === 'GET' && /^\/api\/v1\/processes\/\d+$/.test(bare(q))),
    processStarts: n((q) => q.method === 'POST' && bare(q) === '/api/v1/processes'),
    followStreams: n((q) => q.method === 'GET' && /^\/api\/v1\/processes\/\d+\/output\/follow$/.test(bare(q))),
    connectionClose: n((q) => (q.headers.connection ?? '').toLowerCase() === 'close'),
    errors: n((q) => !(q.status >= 200 && q.status < 300) && !(q.status === 404 && q.path.includes('/by-name/'))),
  };
}

/** What was uploaded, from the request log (PUT content-length) and the sandbox's extraction record. */
interface Upload {
  /** content-length of the PUT context.tar.gz; undefined when the client streamed it chunked */
  archiveBytes?: number;
  transferEncoding?: string;
  entries: { file: number; directory: number; symlink: number; hardlink: number };
  /** the regular files extracted in the sandbox, sorted */
  files: string[];
  fileBytes: number;
  /** the spec.json PUT content-length */
  specBytes?: number;
  /** the sandbox create request's content-length and the sandbox name it got */
  createBodyBytes?: number;
  sandboxName?: string;
}

function uploadOf(reqs: RequestLogEntry[], st: SimState, sandboxId: string): Upload {
  const put = reqs.find((q) => q.method === 'PUT' && q.path.includes('context.tar.gz'));
  const spec = reqs.find((q) => q.method === 'PUT' && q.path.includes('spec.json'));
  const create = reqs.find((q) => q.method === 'POST' && q.role === 'lifecycle' && /\/sandboxes$/.test(bare(q)));
  const sb = st.sandboxes.find((s) => s.id === sandboxId);
  const files = sb?.contextArchives[0]?.files ?? [];
  const entries = { file: 0, directory: 0, symlink: 0, hardlink: 0 };
  for (const f of files) entries[f.type]++;
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  return {
    archiveBytes: num(put?.headers['content-length']),
    transferEncoding: put?.headers['transfer-encoding'],
    entries,
    files: files
      .filter((f) => f.type === 'file')
      .map((f) => f.path)
      .sort(),
    fileBytes: files.reduce((s, f) => s + (f.type === 'file' ? f.size : 0), 0),
    specBytes: num(spec?.headers['content-length']),
    createBodyBytes: num(create?.headers['content-length']),
    sandboxName: sb?.name,
  };
}

// ------------------------------------------------------------------------------------------
// one build per client

interface Run {
  client: Client;
  rep: number;
  wallMs: number;
  /** wall − server-visible span: what the client spends outside requests (start-up, exit) */
  outsideMs: number;
  phases: Phases;
  counts: Counts;
  upload: Upload;
  /** builder lines the simulator's builder emitted vs what the client streamed */
  builderLines: number;
  streamedLines: number;
  templateId: string;
}

const EXAMPLE = join(ROOT, 'examples', 'app');
const BUILD_TIMEOUT_MS = 120_000;

/** Requests made since `afterSeq`, on the sandbox this build created (proxy requests carry it). */
function slice(st: SimState, afterSeq: number): RequestLogEntry[] {
  return st.requests.filter((q) => q.seq > afterSeq).sort((a, b) => a.seq - b.seq);
}
const lastSeq = (s: SimulatorHandle): number => s.state().requests.reduce((m, q) => Math.max(m, q.seq), 0);

async function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => Promise<void>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void onTimeout().finally(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function sdkBuild(native: NativeBinding, s: SimulatorHandle, name: string, rep: number): Promise<Run> {
  const before = lastSeq(s);
  const events: NativeEvent[] = [];
  const t0 = performance.now();
  const json = await withTimeout(
    native.buildSandboxImage(
      {
        apiUrl: s.url,
        bearerToken: SIM_KEY,
        dockerfilePath: join(EXAMPLE, 'Dockerfile'),
        registeredName: name,
        isPublic: false,
        namespace: 'default',
        useScopeHeaders: false,
        dockerCompat: false,
      },
      (e) => events.push(e),
    ),
    BUILD_TIMEOUT_MS,
    'the SDK build',
    () => s.stop(), // closing every connection makes the SDK's pending request fail
  );
  const wallMs = performance.now() - t0;
  const result = JSON.parse(json) as { id?: string };
  return finish(s, 'sdk', rep, before, wallMs, String(result.id ?? ''), events.filter((e) => e.eventType === 'build_log').length);
}

async function actionBuild(s: SimulatorHandle, name: string, rep: number): Promise<Run> {
  const before = lastSeq(s);
  const t0 = performance.now();
  const run = await runAction({ workspace: EXAMPLE, inputs: { 'api-key': SIM_KEY, 'api-url': s.url, name }, timeoutMs: BUILD_TIMEOUT_MS });
  const wallMs = performance.now() - t0;
  try {
    if (run.code !== 0 || run.outputs.status !== 'registered') {
      throw new Error(
        `action failed (${run.code}): ${run.stdout
          .split('\n')
          .filter((l) => !l.startsWith('::add-mask::'))
          .slice(-20)
          .join('\n')}\n${run.stderr}`,
      );
    }
    // the builder's lines in the Build log group, minus the action's own (the soak's helper)
    return finish(s, 'action', rep, before, wallMs, run.outputs['template-id'] ?? '', builderLinesOf(run.stdout).length);
  } finally {
    await cleanupRun(run);
  }
}

function finish(
  s: SimulatorHandle,
  client: Client,
  rep: number,
  before: number,
  wallMs: number,
  templateId: string,
  streamedLines: number,
): Run {
  const st = s.state();
  const reqs = slice(st, before);
  const sandboxId = must(reqs.find((q) => q.sandboxId)?.sandboxId, 'sandbox id');
  const sb = must(
    st.sandboxes.find((x) => x.id === sandboxId),
    `sandbox ${sandboxId}`,
  );
  if (sb.status !== 'terminated') throw new Error(`${client}: builder sandbox ${sandboxId} left ${sb.status}`);
  const builder = sb.processes.find((p) => p.command === '/usr/local/bin/tl-rootfs-build');
  const phases = phasesOf(reqs);
  return {
    client,
    rep,
    wallMs,
    outsideMs: wallMs - phases.span,
    phases,
    counts: countsOf(reqs),
    upload: uploadOf(reqs, st, sandboxId),
    builderLines: builder?.lines ?? 0,
    streamedLines,
    templateId,
  };
}

// ------------------------------------------------------------------------------------------

export interface Stat {
  median: number;
  min: number;
  max: number;
  values: number[];
}
const stat = (xs: number[]): Stat => ({
  median: median(xs),
  min: Math.min(...xs),
  max: Math.max(...xs),
  values: xs.map((x) => Math.round(x * 10) / 10),
});

export interface SdkReport {
  date: string;
  node: string;
  sdk: string;
  reps: number;
  simulator: string;
  skipped?: string;
  /** metric → client → stat (ms, or a count) */
  metrics: Record<string, Record<Client, Stat>>;
  warmup: Record<Client, number>;
  upload: Record<Client, Upload>;
  /** per build, in the order they ran: client, repetition, wall ms */
  order: Array<[Client, number, number]>;
}

/** A row for bench/run.ts's table (same shape as its Result). */
export interface SdkRow {
  group: string;
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ms`);
const cnt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/**
 * `sandboxPendingMs` (default: the simulator's 50 ms) shows how the two poll schedules meet slower
 * sandboxes: the SDK polls at 0, 1, 2, 3 s…, the action at 0, 0.2, 0.6, 1.4, 2.4 s….
 */
export async function benchSdk(opts: { reps: number; sandboxPendingMs?: number; record?: (r: SdkRow) => void }): Promise<SdkReport> {
  const reps = Math.max(1, Math.floor(opts.reps));
  const pending = opts.sandboxPendingMs;
  console.log(
    `\n# The real Tensorlake SDK beside the action: ext4 build of examples/app, ${reps} each, alternating${pending === undefined ? '' : `; sandbox pending ${pending} ms`}`,
  );
  const base = {
    date: new Date().toISOString(),
    node: process.version,
    reps,
    simulator: `in-process, default timings (sandbox pending ${pending ?? 50} ms${pending === undefined ? '' : ' (--sdk-sandbox-pending-ms)'}, builder line delay 5 ms), quiet`,
  };
  let loaded: ReturnType<typeof loadNative>;
  try {
    loaded = loadNative();
  } catch (e) {
    const skipped = `native binding not loadable here: ${(e as Error).message.split('\n')[0]}`;
    console.log(`  skipped: ${skipped}`);
    return {
      ...base,
      sdk: 'tensorlake (not loaded)',
      skipped,
      metrics: {},
      warmup: { sdk: NaN, action: NaN },
      upload: {} as Record<Client, Upload>,
      order: [],
    };
  }
  const sdkName = `tensorlake@${loaded.version} (native binding ${process.platform}-${process.arch})`;
  const s = await startSimulator({
    quiet: true,
    requestLogLimit: 100_000,
    ...(pending === undefined ? {} : { sandboxPendingMs: pending }),
  });
  const runs: Run[] = [];
  const warmup = { sdk: NaN, action: NaN };
  const tag = Date.now().toString(36);
  try {
    // one warm-up each (file cache, the SDK's runtime, the simulator's JIT); not counted
    warmup.sdk = (await sdkBuild(loaded.native, s, `bench-sdk-warmup-${tag}`, -1)).wallMs;
    warmup.action = (await actionBuild(s, `bench-action-warmup-${tag}`, -1)).wallMs;
    for (let i = 0; i < reps; i++) {
      // alternate which client goes first so that drift (GC, page cache) does not favour one
      const order: Client[] = i % 2 ? ['action', 'sdk'] : ['sdk', 'action'];
      for (const c of order) {
        const r =
          c === 'sdk' ? await sdkBuild(loaded.native, s, `bench-sdk-${tag}-${i}`, i) : await actionBuild(s, `bench-action-${tag}-${i}`, i);
        runs.push(r);
        console.log(
          `  ${c.padEnd(6)} #${i + 1}: ${ms(r.wallMs)} (sandbox wait ${ms(r.phases.sandboxWait)}, ${r.counts.requests} requests, ${r.counts.sandboxPolls} sandbox polls)`,
        );
      }
    }
    const st = s.state();
    const names = new Set(st.templates.map((x) => String(x.name)));
    for (let i = 0; i < reps; i++) {
      for (const n of [`bench-sdk-${tag}-${i}`, `bench-action-${tag}-${i}`])
        if (!names.has(n)) throw new Error(`template ${n} was not registered`);
    }
  } finally {
    await s.stop();
  }

  const of = (c: Client): Run[] => runs.filter((r) => r.client === c);
  const metrics: Record<string, Record<Client, Stat>> = {};
  const put = (key: string, f: (r: Run) => number): void => {
    metrics[key] = { sdk: stat(of('sdk').map(f)), action: stat(of('action').map(f)) };
  };
  put('wallMs', (r) => r.wallMs);
  for (const [k] of PHASES) put(`phase.${k}`, (r) => r.phases[k]);
  put('outsideMs', (r) => r.outsideMs);
  const COUNT_KEYS: Array<[keyof Counts, string]> = [
    ['requests', 'requests (total)'],
    ['platform', '  platform API'],
    ['lifecycle', '  sandbox lifecycle'],
    ['proxy', '  sandbox proxy'],
    ['sandboxPolls', 'sandbox status polls (GET sandbox)'],
    ['processStarts', 'process starts (POST /processes)'],
    ['followStreams', 'output follow streams'],
    ['processPolls', 'process status polls (GET /processes/<pid>)'],
    ['connectionClose', 'requests sent with Connection: close'],
    ['errors', 'non-2xx answers (besides the by-name 404)'],
  ];
  for (const [k] of COUNT_KEYS) put(`count.${k}`, (r) => r.counts[k]);
  put('archiveBytes', (r) => r.upload.archiveBytes ?? NaN);
  put('builderLines', (r) => r.builderLines);
  put('streamedLines', (r) => r.streamedLines);
  const upload = { sdk: of('sdk')[0].upload, action: of('action')[0].upload };

  // the table
  const cell = (x: Stat, f: (v: number) => string): string => (x.min === x.max ? f(x.median) : `${f(x.median)} [${f(x.min)}–${f(x.max)}]`);
  const rows: string[][] = [];
  const timeRow = (label: string, key: string): void => {
    const m = metrics[key];
    rows.push([label, cell(m.sdk, ms), cell(m.action, ms), ms(m.sdk.median - m.action.median)]);
  };
  timeRow('wall time (SDK: call → resolved; action: process)', 'wallMs');
  for (const [k, label] of PHASES) timeRow(`  ${label}`, `phase.${k}`);
  timeRow('wall − server-visible span (start-up, exit)', 'outsideMs');
  for (const [k, label] of COUNT_KEYS) {
    const m = metrics[`count.${k}`];
    rows.push([label, cell(m.sdk, cnt), cell(m.action, cnt), cnt(m.sdk.median - m.action.median)]);
  }
  const arch = (u: Upload): string =>
    `${u.archiveBytes ?? `? (${u.transferEncoding ?? 'no content-length'})`} B; ${u.entries.file} files + ${u.entries.directory} dirs`;
  rows.push(['context.tar.gz uploaded (PUT content-length)', arch(upload.sdk), arch(upload.action), '']);
  rows.push(['spec.json uploaded (PUT content-length)', `${upload.sdk.specBytes ?? '?'} B`, `${upload.action.specBytes ?? '?'} B`, '']);
  const sameFiles = JSON.stringify(upload.sdk.files) === JSON.stringify(upload.action.files);
  rows.push([
    'same files in the context',
    sameFiles ? 'yes' : upload.sdk.files.join(' '),
    sameFiles ? 'yes' : upload.action.files.join(' '),
    '',
  ]);
  const sbName = (n: string | undefined): string => (n === undefined ? '(none)' : n.startsWith('sbx-image-') ? 'sbx-image-<build id>' : n);
  rows.push([
    'sandbox create body; sandbox name',
    `${upload.sdk.createBodyBytes ?? '?'} B; ${sbName(upload.sdk.sandboxName)}`,
    `${upload.action.createBodyBytes ?? '?'} B; ${sbName(upload.action.sandboxName)}`,
    '',
  ]);
  rows.push([
    'builder lines emitted / streamed to the client',
    `${cnt(metrics.builderLines.sdk.median)} / ${cnt(metrics.streamedLines.sdk.median)}`,
    `${cnt(metrics.builderLines.action.median)} / ${cnt(metrics.streamedLines.action.median)}`,
    '',
  ]);
  rows.push(['warm-up build (not counted)', ms(warmup.sdk), ms(warmup.action), '']);
  console.log(`\n${sdkName} vs the action (dist/index.js), median [min–max] of ${reps}; ms from the simulator's request log\n`);
  console.log(table(['measurement', 'SDK', 'action', 'SDK − action'], rows));

  const rec = opts.record ?? (() => undefined);
  for (const c of CLIENTS) {
    const m = metrics;
    rec({
      group: pending === undefined ? 'sdk' : `sdk (sandbox pending ${pending} ms)`,
      name: `${c === 'sdk' ? 'SDK buildSandboxImage' : 'action dist/index.js'}: ext4 build of examples/app (wall, median of ${reps})`,
      value: m.wallMs[c].median / 1000,
      unit: 's',
      note: `min ${ms(m.wallMs[c].min)}, max ${ms(m.wallMs[c].max)}; sandbox wait ${ms(m['phase.sandboxWait'][c].median)}; builder run ${ms(m['phase.builderRun'][c].median)}; ${cnt(m['count.requests'][c].median)} requests, ${cnt(m['count.sandboxPolls'][c].median)} sandbox polls; archive ${upload[c].archiveBytes ?? '?'} B`,
    });
  }
  const order = runs.map((r): [Client, number, number] => [r.client, r.rep, Math.round(r.wallMs)]);
  return { ...base, sdk: sdkName, metrics, warmup: { sdk: Math.round(warmup.sdk), action: Math.round(warmup.action) }, upload, order };
}
