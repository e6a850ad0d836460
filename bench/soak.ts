/**
 * Soak test (docs/protocol.md §1.6): `npm run soak -- [--builds 50] [--concurrency 8] [--seed 1] [--timeout-ms 120000] [--json file]`.
 *
 * N real runs of the bundled action (`dist/index.js`, one process each, like GitHub runs it),
 * C at a time, against ONE in-process simulator. Each build gets its own temp project (a random
 * small context, a random Dockerfile), its own DOCKER_CONFIG with a random registry password, a
 * random mode (ext4 base, ext4 diff of a registered template, cas-streaming) and a random fault
 * (or none) drawn by a seeded PRNG from the simulator's fault kinds.
 *
 * Fault scoping is imprecise: the simulator's rules are global and a build's ids do not exist
 * before it starts, so a build's rule is added (with a `times` budget) right
 * before its action process starts, and whichever build makes the next matching request (or runs
 * the next builder / admission) consumes it. Outcomes are therefore classified by what actually
 * happened to each build, never by the fault that was planned for it; HTTP faults are attributed to
 * the build that consumed them through the simulator's request log.
 *
 * Outcomes: success (exit 0, status registered); clean failure (exit 1, a `::error::` message, and
 * none of its builder sandboxes left running when it exited); crash (any other nonzero exit);
 * hang (killed at --timeout-ms; its post step is then run, as GitHub would).
 *
 * Must-be-0 counts (the process exits 1 otherwise):
 *   - leaked sandboxes: sandboxes not `terminated` in the simulator state at the end;
 *   - lost/duplicated log lines: for each successful build, the builder process's emitted lines in
 *     the simulator state (`processes[].output`, in order) vs the builder lines in the action's
 *     Build log group, compared exactly (missing, extra, out of order);
 *   - secrets seen: the API key, each run's registry password and base64 auth, and every signed URL
 *     in the simulator state, searched in every run's stdout (minus `::add-mask::` lines), stderr,
 *     summary and outputs.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator } from '../simulator/index.js';
import type { FaultRuleInput, SimState } from '../simulator/types.js';
import { runAction, visibleText, cleanupRun, SIM_KEY, type ActionRun } from '../tools/action-runner.js';
import { builderLinesOf, builderSandboxName, flags, pool, rng, signedUrls, table, type Rng } from './lib.js';

const f = flags(process.argv.slice(2));
const BUILDS = f.num('builds', 50);
const CONCURRENCY = f.num('concurrency', 8);
const SEED = f.num('seed', 1);
const TIMEOUT_MS = f.num('timeout-ms', 120_000);
const JSON_OUT = f.str('json', '');
const VERBOSE = f.bool('verbose');

type Mode = 'ext4' | 'ext4-diff' | 'streaming';

interface Plan {
  index: number;
  mode: Mode;
  fault: string;
  rules: FaultRuleInput[];
  inputs: Record<string, string>;
  files: Record<string, string>;
}

const P = {
  introspect: { method: 'POST', path: '/platform/v1/keys/introspect' },
  byName: { method: 'GET', path: '/platform/v1/**/by-name/*' },
  prepare: { method: 'POST', path: '/platform/v1/organizations/*/projects/*/sandbox-template-builds' },
  buildStatus: { method: 'GET', path: '/platform/v1/organizations/*/projects/*/sandbox-template-builds/*' },
  complete: { method: 'POST', path: '/platform/v1/**/complete' },
  sbCreate: { method: 'POST', path: '/v1/namespaces/*/sandboxes' },
  sbGet: { method: 'GET', path: '/v1/namespaces/*/sandboxes/*' },
  sbDelete: { method: 'DELETE', path: '/v1/namespaces/*/sandboxes/*' },
  procStart: { method: 'POST', path: '/api/v1/processes' },
  procGet: { method: 'GET', path: '/api/v1/processes/*' },
  filePut: { method: 'PUT', path: '/api/v1/files' },
  fileGet: { method: 'GET', path: '/api/v1/files' },
  blobSign: { method: 'POST', path: '/api/v1/blob/sign' },
} as const;
type Endpoint = keyof typeof P;
const ALL_ENDPOINTS = Object.keys(P) as Endpoint[];
const SAFE_ENDPOINTS: Endpoint[] = ['byName', 'buildStatus', 'sbGet', 'sbDelete', 'procGet', 'fileGet'];

const FAULTS: Array<readonly [string, number]> = [
  ['none', 10],
  ['429 Retry-After', 5],
  ['5xx burst', 5],
  ['reset before', 4],
  ['reset after', 4],
  ['drop follow stream', 5],
  ['delay', 2],
  ['sandbox pending', 3],
  ['builder fail', 2],
  ['builder OOM', 2],
  ['builder ENOSPC', 2],
  ['terminate mid-build', 2],
  ['admission fail', 2],
  ['corrupt chunk', 2],
  ['admission hang', 2],
  ['auth rejected', 2],
];

function dockerfile(r: Rng, mode: Mode, files: string[]): string {
  const from =
    mode === 'ext4-diff' ? 'tensorlake/base:1' : r.pick(['python:3.12-slim', 'node:20-bookworm', 'debian:12', 'ghcr.io/acme/runtime:2.4']);
  const lines = [r.chance(0.5) ? '# syntax=docker/dockerfile:1' : '# a soak build', `FROM ${from}`, 'WORKDIR /app'];
  const steps = r.int(1, 5);
  for (let i = 0; i < steps; i++) {
    const k = r.int(0, 2);
    if (k === 0 && files.length) lines.push(`COPY ${r.pick(files)} ./`);
    else if (k === 1) lines.push(`RUN echo step ${i} \\`, `    && true`);
    else lines.push(`ENV STEP_${i}=${r.int(0, 999)}`);
  }
  lines.push('COPY . .', 'CMD ["sh", "-c", "echo ok"]', '');
  return lines.join('\n');
}

function project(r: Rng, mode: Mode): Record<string, string> {
  const files: Record<string, string> = {};
  const n = r.int(1, 40);
  for (let i = 0; i < n; i++) {
    const depth = r.int(0, 3);
    const dir = Array.from({ length: depth }, () => r.pick(['src', 'lib', 'assets', 'deep', 'x'])).join('/');
    const name = `${dir ? dir + '/' : ''}f${i}.${r.pick(['txt', 'py', 'json', 'bin'])}`;
    const size = r.chance(0.1) ? r.int(10_000, 200_000) : r.int(0, 2000);
    let body = '';
    while (body.length < size) body += `${i}:${r.next().toString(36)}\n`;
    files[name] = body.slice(0, size);
  }
  if (r.chance(0.4)) files['.dockerignore'] = '*.bin\n!keep.bin\n**/tmp\n';
  files.Dockerfile = dockerfile(
    r,
    mode,
    Object.keys(files).filter((p) => !p.startsWith('.') && !p.endsWith('.bin')),
  );
  return files;
}

function faultRules(r: Rng, fault: string, plan: { inputs: Record<string, string> }): FaultRuleInput[] {
  const http = (pool: Endpoint[]) => P[r.pick(pool)];
  switch (fault) {
    case '429 Retry-After':
      return [{ kind: 'status', status: 429, headers: { 'retry-after': String(r.int(1, 2)) }, ...http(ALL_ENDPOINTS), times: r.int(1, 2) }];
    case '5xx burst':
      return [
        {
          kind: 'status',
          status: r.pick([502, 503]),
          ...http(ALL_ENDPOINTS),
          times: r.int(2, 4),
          body: r.chance(0.5) ? '<html><body>Bad Gateway</body></html>' : { error: 'upstream unavailable' },
        },
      ];
    case 'reset before':
      return [{ kind: 'reset', when: 'before', ...http(ALL_ENDPOINTS), times: r.int(1, 2) }];
    case 'reset after':
      return [{ kind: 'reset', when: 'after', ...http([...SAFE_ENDPOINTS, 'complete', 'sbCreate', 'procStart', 'filePut']), times: 1 }];
    case 'drop follow stream':
      return [
        {
          kind: 'dropStream',
          method: 'GET',
          path: '/api/v1/processes/*/output/follow',
          command: 'tl-rootfs-build',
          afterLines: r.int(1, 18),
          times: r.int(1, 3),
        },
      ];
    case 'delay':
      return [{ kind: 'delay', ...http(ALL_ENDPOINTS), delayMs: r.int(300, 2000), times: r.int(1, 3) }];
    case 'sandbox pending':
      return [{ kind: 'sandboxPending', pendingMs: r.int(1000, 4000) }];
    case 'builder fail':
      return [{ kind: 'builderFail', exitCode: r.int(1, 2), afterLines: r.chance(0.5) ? r.int(2, 12) : undefined }];
    case 'builder OOM':
      return [{ kind: 'builderOom', afterLines: r.int(3, 12) }];
    case 'builder ENOSPC':
      return [{ kind: 'builderEnospc', afterLines: r.int(3, 12) }];
    case 'terminate mid-build':
      return [{ kind: 'terminateSandbox', afterBuilderLines: r.int(3, 15), reason: 'host maintenance (soak fault)' }];
    case 'admission fail':
      return [{ kind: 'admissionFail', message: 'soak: staged chunk digest mismatch' }];
    case 'corrupt chunk':
      return [{ kind: 'corruptChunk', chunkIndex: r.int(0, 3) }];
    case 'admission hang':
      plan.inputs['admission-timeout'] = '2s';
      return [{ kind: 'admissionHang' }];
    case 'auth rejected':
      return [{ kind: 'rejectAuth', ...http(['introspect', 'prepare', 'sbCreate', 'procStart', 'buildStatus']), times: 1 }];
    default:
      return [];
  }
}

function makePlans(): Plan[] {
  const r = rng(SEED);
  const plans: Plan[] = [];
  for (let i = 0; i < BUILDS; i++) {
    const fault = r.weighted(FAULTS);
    const needsStreaming = ['admission fail', 'corrupt chunk', 'admission hang'].includes(fault);
    const mode: Mode = needsStreaming
      ? 'streaming'
      : r.weighted<Mode>([
          ['ext4', 4],
          ['ext4-diff', 1],
          ['streaming', 4],
        ]);
    const inputs: Record<string, string> = {
      name: `soak-${i}`,
      // bounded even when another build's admissionHang lands on this one
      'admission-timeout': '20s',
      'poll-interval': r.pick(['200ms', '500ms', '1s']),
    };
    if (mode === 'streaming') inputs.streaming = 'true';
    const plan: Plan = { index: i, mode, fault, rules: [], inputs, files: project(r, mode) };
    plan.rules = faultRules(r, fault, plan);
    plans.push(plan);
  }
  return plans;
}

interface Outcome {
  plan: Plan;
  ruleIds: string[];
  code: number | null;
  signal: string | null;
  ms: number;
  kind: 'success' | 'clean failure' | 'crash' | 'hang';
  cause: string;
  error?: string;
  buildId?: string;
  sandboxIds: string[];
  leftRunningAtExit: string[];
  text: string;
  dockerSecrets: string[];
  run: ActionRun;
}

function causeOf(msg: string): string {
  const rules: Array<[RegExp, string]> = [
    [/OOM killer|ran out of memory/i, 'builder OOM'],
    [/No space left|ran out of disk space/i, 'builder ENOSPC'],
    [/streaming image admission failed/i, 'admission failed'],
    [/admission-timeout/, 'admission timeout'],
    [/terminated|410|SANDBOX_TERMINATED|can no longer be reached/i, 'sandbox terminated'],
    [/tl-rootfs-build' failed with exit code/, 'builder failed'],
    [/\b401\b|unauthori[sz]ed|invalid api key|rejected/i, 'auth rejected'],
    [/sandbox-timeout/, 'sandbox timeout'],
    [/reset|ECONNRESET|socket hang up|ambiguous|did not answer/i, 'connection reset'],
  ];
  for (const [re, c] of rules) if (re.test(msg)) return c;
  const http = /failed to (.+?) \(HTTP (\d{3})/.exec(msg);
  if (http) return `HTTP ${http[2]} on ${http[1]}`;
  return `other: ${msg.split('\n')[0].slice(0, 70)}`;
}

async function main(): Promise<number> {
  const plans = makePlans();
  const s = await startSimulator({
    quiet: true,
    builderLineDelayMs: 10,
    sandboxPendingMs: 50,
    admissionBytesPerSecond: 32 * 1024 * 1024,
    admissionMinMs: 200,
    requestLogLimit: 1_000_000,
  });
  const root = await mkdtemp(join(tmpdir(), 'sbx-soak-'));
  console.log(`soak: ${BUILDS} builds, ${CONCURRENCY} at a time, seed ${SEED}, timeout ${TIMEOUT_MS} ms, simulator ${s.url}`);
  const t0 = performance.now();
  let done = 0;
  try {
    const outcomes = await pool(plans, CONCURRENCY, async (plan): Promise<Outcome> => {
      const ws = join(root, `p${plan.index}`);
      for (const [rel, body] of Object.entries(plan.files)) {
        await mkdir(join(ws, rel, '..'), { recursive: true });
        await writeFile(join(ws, rel), body);
      }
      const dockerDir = join(root, `docker${plan.index}`);
      await mkdir(dockerDir, { recursive: true });
      const password = `soakRegistryPw_${plan.index}_${Math.random().toString(36).slice(2)}`;
      const auth = Buffer.from(`soak-bot:${password}`).toString('base64');
      await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ auths: { 'ghcr.io': { auth } } }));

      const added = plan.rules.length ? s.addFaults(plan.rules) : [];
      const b0 = performance.now();
      const run = await runAction({
        workspace: ws,
        inputs: { 'api-key': SIM_KEY, 'api-url': s.url, ...plan.inputs },
        env: { DOCKER_CONFIG: dockerDir },
        timeoutMs: TIMEOUT_MS,
      });
      const ms = performance.now() - b0;
      const st = s.state();
      const buildId = run.outputs['build-id'] || undefined;
      const recorded = new Set<string>();
      if (run.outputs['builder-sandbox-id']) recorded.add(run.outputs['builder-sandbox-id']);
      try {
        for (const id of JSON.parse(run.state['builder-sandboxes'] ?? '[]') as string[]) recorded.add(id);
      } catch {
        /* not JSON: reported by the crash check */
      }
      const name = buildId ? builderSandboxName(buildId) : undefined;
      const mine = st.sandboxes.filter((x) => recorded.has(x.id) || (name !== undefined && x.name === name));
      const leftRunningAtExit = mine.filter((x) => x.status !== 'terminated').map((x) => x.id);
      const errors = run.annotations.filter((a) => a.level === 'error').map((a) => a.message);
      let kind: Outcome['kind'];
      let cause = '';
      if (run.code === null && run.signal === 'SIGKILL') {
        kind = 'hang';
        cause = 'timeout';
      } else if (run.code === 0 && run.outputs.status === 'registered') {
        kind = 'success';
      } else if (run.code === 1 && errors.length > 0 && leftRunningAtExit.length === 0) {
        kind = 'clean failure';
        cause = causeOf(errors.join('\n'));
      } else {
        kind = 'crash';
        cause = `exit ${run.code ?? run.signal}${errors.length ? '' : ', no ::error::'}${leftRunningAtExit.length ? `, left running ${leftRunningAtExit.join(',')}` : ''}${run.code === 0 ? `, status ${run.outputs.status}` : ''}`;
      }
      done++;
      if (VERBOSE || kind === 'crash' || kind === 'hang') {
        console.log(
          `  [${done}/${BUILDS}] #${plan.index} ${plan.mode} ${plan.fault}: ${kind}${cause ? ` (${cause})` : ''} in ${(ms / 1000).toFixed(1)} s`,
        );
        if (kind === 'crash')
          console.log(
            run.stdout
              .split('\n')
              .filter((l) => !l.startsWith('::add-mask::') && !l.startsWith('::debug::'))
              .slice(-25)
              .join('\n') +
              '\n' +
              run.stderr.slice(-2000),
          );
      } else if (done % 10 === 0) console.log(`  ${done}/${BUILDS} done`);
      await rm(ws, { recursive: true, force: true });
      await rm(dockerDir, { recursive: true, force: true });
      return {
        plan,
        ruleIds: added.map((a) => a.id),
        code: run.code,
        signal: run.signal,
        ms,
        kind,
        cause,
        error: errors[0],
        buildId,
        sandboxIds: mine.map((x) => x.id),
        leftRunningAtExit,
        text: visibleText(run),
        dockerSecrets: [password, auth],
        run,
      };
    });

    // GitHub runs the post step (post-if: always) after a killed main step: do the same for hangs.
    for (const o of outcomes.filter((x) => x.kind === 'hang')) {
      const post = await runAction({
        workspace: root,
        inputs: { 'api-key': SIM_KEY, 'api-url': s.url },
        post: true,
        state: o.run.state,
        timeoutMs: 60_000,
      });
      console.log(`  post step for hung build #${o.plan.index}: exit ${post.code}`);
      await cleanupRun(post);
    }
    const wallMs = performance.now() - t0;
    const st: SimState = s.state();
    return await report(outcomes, st, wallMs);
  } finally {
    await s.stop();
    await rm(root, { recursive: true, force: true });
  }
}

async function report(outcomes: Outcome[], st: SimState, wallMs: number): Promise<number> {
  // ---- fault attribution: which build consumed which rule (HTTP rules through the request log)
  const bySandbox = new Map<string, Outcome>();
  const byBuild = new Map<string, Outcome>();
  for (const o of outcomes) {
    for (const id of o.sandboxIds) bySandbox.set(id, o);
    if (o.buildId) byBuild.set(o.buildId, o);
  }
  const consumedBy = new Map<string, Set<number>>();
  for (const q of st.requests) {
    for (const id of q.faults ?? []) {
      const o =
        (q.sandboxId && bySandbox.get(q.sandboxId)) ||
        [...byBuild.entries()].find(([b]) => q.path.includes(b) || q.path.includes(builderSandboxName(b)))?.[1];
      let set = consumedBy.get(id);
      if (!set) consumedBy.set(id, (set = new Set()));
      set.add(o ? o.plan.index : -1);
    }
  }
  const ruleState = new Map(st.faults.map((r) => [r.id, r]));
  const firedText = (o: Outcome): string => {
    if (!o.ruleIds.length) return '-';
    return o.ruleIds
      .map((id) => {
        const r = ruleState.get(id);
        if (!r || r.hits === 0) return 'not fired';
        const who = consumedBy.get(id);
        if (!who) return `${r.hits}x`;
        const names = [...who].map((i) => (i === o.plan.index ? 'self' : i < 0 ? '?' : `#${i}`));
        return `${r.hits}x ${names.join(',')}`;
      })
      .join('; ');
  };

  // ---- log lines: builder process line count (simulator) vs builder lines in the Build group
  let lost = 0;
  let duplicated = 0;
  let checked = 0;
  const logProblems: string[] = [];
  for (const o of outcomes.filter((x) => x.kind === 'success')) {
    const sb = st.sandboxes.find((x) => x.id === o.run.outputs['builder-sandbox-id']);
    const proc = sb?.processes.filter((p) => /tl-rootfs-build$/.test(p.command) && p.exit_code === 0).pop();
    if (!sb || !proc) {
      logProblems.push(`#${o.plan.index}: builder process not found in the simulator state`);
      lost++;
      continue;
    }
    checked++;
    // exact comparison: the simulator's state keeps every line the builder emitted, in order
    const got = builderLinesOf(o.run.stdout);
    // the live log shows builder lines as the builder wrote them (no stream mark)
    const expected = proc.output.map((x) => x.line);
    const tally = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
    const want = tally(expected);
    const have = tally(got);
    let missing = 0;
    let extra = 0;
    for (const [k, n] of want) missing += Math.max(0, n - (have.get(k) ?? 0));
    for (const [k, n] of have) extra += Math.max(0, n - (want.get(k) ?? 0));
    const reordered = missing === 0 && extra === 0 && got.some((l, i) => l !== expected[i]);
    lost += missing;
    duplicated += extra + (reordered ? 1 : 0);
    if (missing || extra || reordered) {
      logProblems.push(
        `#${o.plan.index} (${o.plan.fault}): simulator emitted ${expected.length} builder lines, Build group has ${got.length} (${missing} missing, ${extra} extra${reordered ? ', out of order' : ''})`,
      );
    }
  }

  // ---- secrets: API key, registry password and auth of every run, signed URLs of the state
  const urls = signedUrls(st);
  const allUrls = new Set<string>([...urls.values()].flatMap((x) => [...x]));
  const everyDocker = outcomes.flatMap((o) => o.dockerSecrets);
  let secretsSeen = 0;
  const secretProblems: string[] = [];
  for (const o of outcomes) {
    const hits: string[] = [];
    for (const sec of [SIM_KEY, ...everyDocker]) if (o.text.includes(sec)) hits.push(sec.slice(0, 8) + '…');
    for (const u of (o.buildId && urls.get(o.buildId)) || []) if (o.text.includes(u)) hits.push('signed URL ' + u.slice(0, 40) + '…');
    // any URL with a query string in the visible text that is a signed URL of any build
    for (const m of o.text.matchAll(/https?:\/\/[^\s"'`|<>)\]]*\?[^\s"'`|<>)\]]*/g)) {
      if ([...allUrls].some((u) => m[0].startsWith(u) || u.startsWith(m[0]))) hits.push('signed URL ' + m[0].slice(0, 40) + '…');
    }
    if (/X-Amz-Signature=/i.test(o.text)) hits.push('X-Amz-Signature');
    if (hits.length) {
      secretsSeen += hits.length;
      secretProblems.push(`#${o.plan.index}: ${[...new Set(hits)].join(', ')}`);
    }
  }

  const leaked = st.sandboxes.filter((x) => x.status !== 'terminated');
  const leftByMain = outcomes.flatMap((o) => o.leftRunningAtExit);

  // ---- print
  const rows = outcomes.map((o) => [
    o.plan.index,
    o.plan.mode,
    o.plan.fault,
    firedText(o),
    o.kind,
    o.cause || '',
    (o.ms / 1000).toFixed(1),
  ]);
  console.log('\n' + table(['#', 'mode', 'planned fault', 'fired (by)', 'outcome', 'cause', 's'], rows));
  const count = (k: Outcome['kind']) => outcomes.filter((o) => o.kind === k).length;
  const causes = new Map<string, number>();
  for (const o of outcomes.filter((x) => x.kind === 'clean failure')) causes.set(o.cause, (causes.get(o.cause) ?? 0) + 1);
  const modes = new Map<string, number>();
  for (const o of outcomes) modes.set(o.plan.mode, (modes.get(o.plan.mode) ?? 0) + 1);
  const unfired = st.faults.filter((r) => r.remaining !== 0);
  const totals = {
    builds: outcomes.length,
    concurrency: CONCURRENCY,
    seed: SEED,
    modes: Object.fromEntries(modes),
    successes: count('success'),
    cleanFailures: count('clean failure'),
    cleanFailuresByCause: Object.fromEntries([...causes].sort((a, b) => b[1] - a[1])),
    crashes: count('crash'),
    hangs: count('hang'),
    leakedSandboxes: leaked.length,
    sandboxesLeftRunningByMainStep: leftByMain.length,
    sandboxesCreated: st.sandboxes.length,
    logLinesChecked: { builds: checked },
    lostLogLines: lost,
    duplicatedLogLines: duplicated,
    secretsSeen,
    faultRulesAdded: st.faults.length,
    faultRulesNotFired: unfired.length,
    requests: st.requests.length,
    wallSeconds: Math.round(wallMs / 100) / 10,
    buildsPerMinute: Math.round((outcomes.length / (wallMs / 60_000)) * 10) / 10,
    medianBuildSeconds: Math.round([...outcomes.map((o) => o.ms)].sort((a, b) => a - b)[outcomes.length >> 1] / 100) / 10,
  };
  console.log('\nTotals');
  console.log(
    table(
      ['metric', 'value'],
      [
        ['builds', `${totals.builds} (${[...modes].map(([m, n]) => `${n} ${m}`).join(', ')}), ${CONCURRENCY} at a time, seed ${SEED}`],
        ['successes', totals.successes],
        ['clean failures', `${totals.cleanFailures}${causes.size ? ` (${[...causes].map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}`],
        ['crashes', totals.crashes],
        ['hangs', totals.hangs],
        [
          'leaked sandboxes (must be 0)',
          `${leaked.length} of ${st.sandboxes.length} created${leftByMain.length ? `; ${leftByMain.length} left running by a main step` : ''}`,
        ],
        ['lost log lines (must be 0)', `${lost} (exact line-by-line comparison for ${checked} successful builds)`],
        ['duplicated log lines (must be 0)', duplicated],
        [
          'secrets seen (must be 0)',
          `${secretsSeen} (searched: API key, ${everyDocker.length} registry secrets, ${allUrls.size} signed URLs)`,
        ],
        [
          'fault rules not fired',
          `${unfired.length} of ${st.faults.length}${unfired.length ? ` (${unfired.map((r) => r.kind).join(', ')})` : ''}`,
        ],
        ['wall time', `${totals.wallSeconds} s (${totals.buildsPerMinute} builds/minute; median build ${totals.medianBuildSeconds} s)`],
      ],
    ),
  );
  for (const p of [...logProblems, ...secretProblems]) console.log('  ! ' + p);
  for (const x of leaked) console.log(`  ! leaked sandbox ${x.id} (${x.name ?? 'no name'}): ${x.status}`);
  if (JSON_OUT) {
    const rowsJson = outcomes.map((o) => ({
      index: o.plan.index,
      mode: o.plan.mode,
      fault: o.plan.fault,
      fired: firedText(o),
      outcome: o.kind,
      cause: o.cause,
      seconds: Math.round(o.ms / 100) / 10,
      error: o.error,
    }));
    await writeFile(JSON_OUT, JSON.stringify({ totals, builds: rowsJson }, null, 2) + '\n');
  }
  const bad = leaked.length + lost + duplicated + secretsSeen;
  console.log(
    bad
      ? '\nSOAK FAILED: a must-be-0 count is not 0'
      : `\nSOAK OK: 0 leaked sandboxes, 0 lost/duplicated log lines, 0 secrets seen${totals.crashes + totals.hangs ? ` (but ${totals.crashes} crashes, ${totals.hangs} hangs)` : ''}`,
  );
  return bad ? 1 : totals.crashes + totals.hangs ? 2 : 0;
}

const code = await main().catch((e: unknown) => {
  console.error(e);
  return 1;
});
process.exitCode = code;
