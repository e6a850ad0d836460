/**
 * End to end: the PR features and plan-only runs. The bundled action against the simulator and the
 * fake GitHub API (simulator/github.ts), with the event payloads GitHub writes for pull_request,
 * push and fork pull requests.
 */
import { describe, it, beforeAll, afterAll, afterEach } from '@jest/globals';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubFake, FAKE_GITHUB_TOKEN, type GitHubFakeHandle } from '../../simulator/github.js';
import {
  simulatorForSuite,
  appProject,
  run,
  runAction,
  assertNoSecrets,
  SIM_KEY,
  type SimulatorHandle,
  type ActionRun,
} from './support.js';

const HEAD = '1'.repeat(40);
const MERGE = '2'.repeat(40);
const PUSHED = '3'.repeat(40);
const REPO = 'octo/app';

async function eventFile(payload: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-event-'));
  const p = join(dir, 'event.json');
  await writeFile(p, JSON.stringify(payload));
  return p;
}

function prPayload(opts: { number?: number; headRepo?: string } = {}) {
  return {
    action: 'synchronize',
    number: opts.number ?? 12,
    pull_request: {
      number: opts.number ?? 12,
      head: { sha: HEAD, ref: 'feature', repo: { full_name: opts.headRepo ?? REPO } },
      base: { sha: '4'.repeat(40), ref: 'main', repo: { full_name: REPO } },
    },
  };
}

async function githubEnv(gh: GitHubFakeHandle, eventName: string, payload: unknown): Promise<Record<string, string>> {
  return {
    GITHUB_EVENT_NAME: eventName,
    GITHUB_EVENT_PATH: await eventFile(payload),
    GITHUB_REPOSITORY: REPO,
    GITHUB_SHA: eventName === 'push' ? PUSHED : MERGE,
    GITHUB_API_URL: gh.url,
    GITHUB_SERVER_URL: 'https://github.example',
    GITHUB_RUN_ID: '987',
    GITHUB_RUN_ATTEMPT: '1',
  };
}

const PR_INPUTS = { 'commit-status': 'true', 'pr-comment': 'true', 'github-token': FAKE_GITHUB_TOKEN, name: 'web' };

function warnings(r: ActionRun): string[] {
  return r.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
}

describe('PR features end to end (dist/index.js, fake GitHub API)', () => {
  let s: SimulatorHandle;
  let gh: GitHubFakeHandle;
  simulatorForSuite((h) => (s = h));
  beforeAll(async () => {
    gh = await startGitHubFake();
  });
  afterAll(async () => {
    await gh.stop();
  });
  afterEach(() => gh.reset());

  it('pull_request: pending then success on the head sha, one comment created, then updated on a rerun', async () => {
    const ws = await appProject();
    const env = await githubEnv(gh, 'pull_request', prPayload());
    const first = await run(s, ws, PR_INPUTS, { env });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    let st = gh.state();
    assert.deepEqual(
      st.statuses.map((x) => [x.sha, x.context, x.state]),
      [
        [HEAD, 'sandbox-image/web', 'pending'],
        [HEAD, 'sandbox-image/web', 'success'],
      ],
      'on the PR head commit, never on the merge commit GITHUB_SHA',
    );
    assert.equal(st.statuses[1].description, `Registered ${first.outputs['template-id']}`);
    assert.equal(st.statuses[1].target_url, 'https://github.example/octo/app/actions/runs/987');
    assert.ok(
      st.requests.every((q) => q.authorized),
      'every request carried the token',
    );
    assert.equal(st.comments.length, 1);
    const c = st.comments[0];
    assert.equal(c.issue, 12);
    assert.match(c.body, /^<!-- sbx-image-action:image=web -->/);
    for (const v of [first.outputs['template-id'], first.outputs['manifest-uri'], 'ext4', 'Workflow run']) assert.ok(c.body.includes(v), v);
    assertNoSecrets(first, [FAKE_GITHUB_TOKEN, SIM_KEY], s);

    const second = await run(s, ws, PR_INPUTS, { env });
    assert.equal(second.code, 0, second.stdout);
    st = gh.state();
    assert.equal(st.comments.length, 1, 'never duplicated');
    assert.equal(st.comments[0].updates, 1, 'updated in place');
    assert.ok(st.comments[0].body.includes(second.outputs['template-id']), 'with the rerun’s result');
    assert.deepEqual(
      st.requests.filter((q) => q.endpoint === 'create-comment' || q.endpoint === 'update-comment').map((q) => q.endpoint),
      ['create-comment', 'update-comment'],
    );
    assert.deepEqual(
      st.statuses.map((x) => x.state),
      ['pending', 'success', 'pending', 'success'],
    );
    assertNoSecrets(second, [FAKE_GITHUB_TOKEN, SIM_KEY], s);
  });

  it('a failed build: pending then failure with the error’s first line; the comment carries the error and its advice', async () => {
    s.addFaults({ kind: 'builderOom' });
    const r = await run(s, await appProject(), PR_INPUTS, { env: await githubEnv(gh, 'pull_request', prPayload()) });
    assert.equal(r.code, 1);
    const st = gh.state();
    assert.deepEqual(
      st.statuses.map((x) => x.state),
      ['pending', 'failure'],
    );
    const d = st.statuses[1].description ?? '';
    assert.ok(d.length > 0 && d.length <= 140, d);
    const failure = r.annotations.find((a) => a.level === 'error')!.message.split('\n')[0];
    assert.equal(d, failure.length <= 140 ? failure : `${failure.slice(0, 139)}…`, 'the first line of the error the step failed with');
    assert.match(d, /OOM/);
    assert.equal(st.comments.length, 1);
    assert.match(st.comments[0].body, /❌ Sandbox image `web` failed/);
    assert.match(st.comments[0].body, /\*\*Error\*\*\n\n```text\n[^\n]*OOM killer[\s\S]*memory-mb[\s\S]*\n```/, 'the error and its advice');
    assertNoSecrets(r, [FAKE_GITHUB_TOKEN, SIM_KEY], s);
  });

  it('403 on comments: a warning naming pull-requests: write, and a green step', async () => {
    const denied = await startGitHubFake({ permissions: { pullRequests: false } });
    try {
      const r = await run(s, await appProject(), PR_INPUTS, { env: await githubEnv(denied, 'pull_request', prPayload()) });
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.outputs.status, 'registered');
      const w = warnings(r).filter((m) => /pull request comment/.test(m));
      assert.equal(w.length, 1, warnings(r).join('\n'));
      assert.match(w[0], /GitHub answered 403 .*`pull-requests: write`.*permissions:/);
      assert.deepEqual(
        denied.state().statuses.map((x) => x.state),
        ['pending', 'success'],
        'statuses still written',
      );
      assertNoSecrets(r, [FAKE_GITHUB_TOKEN, SIM_KEY], s);
    } finally {
      await denied.stop();
    }
  });

  it('403 on statuses: a warning naming statuses: write; the comment is still written', async () => {
    const denied = await startGitHubFake({ permissions: { statuses: false } });
    try {
      const r = await run(s, await appProject(), PR_INPUTS, { env: await githubEnv(denied, 'pull_request', prPayload()) });
      assert.equal(r.code, 0, r.stdout);
      const w = warnings(r).filter((m) => /commit status/.test(m));
      assert.equal(w.length, 2, 'pending and final');
      for (const m of w) assert.match(m, /403 .*`statuses: write`/);
      assert.equal(denied.state().comments.length, 1);
    } finally {
      await denied.stop();
    }
  });

  it('GitHub 5xx is retried like platform calls', async () => {
    gh.addFault({ endpoint: 'statuses', status: 502, times: 2 });
    gh.addFault({ endpoint: 'list-comments', status: 503, times: 1 });
    const r = await run(s, await appProject(), PR_INPUTS, { env: await githubEnv(gh, 'pull_request', prPayload()) });
    assert.equal(r.code, 0, r.stdout);
    assert.deepEqual(
      warnings(r).filter((m) => /GitHub/.test(m)),
      [],
    );
    const st = gh.state();
    assert.deepEqual(
      st.statuses.map((x) => x.state),
      ['pending', 'success'],
    );
    assert.equal(st.requests.filter((q) => q.endpoint === 'statuses').length, 4, 'two failed attempts, then pending and success');
    assert.equal(st.comments.length, 1);
  });

  it('cancelled: the status says error, and the job still exits within 5 s when GitHub does not answer', async () => {
    const env = await githubEnv(gh, 'pull_request', prPayload());
    const r = await run(s, await appProject(), PR_INPUTS, { env, killOn: { pattern: /Running offline rootfs builder/, signal: 'SIGINT' } });
    assert.equal(r.code, 1);
    assert.ok(r.exitAfterSignalMs! < 5000, `exited ${r.exitAfterSignalMs} ms after SIGINT`);
    const st = gh.state();
    assert.deepEqual(
      st.statuses.map((x) => [x.state, x.description]),
      [
        ['pending', 'Building sandbox image web…'],
        ['error', 'Cancelled during Build'],
      ],
    );
    assert.match(st.comments[0].body, /🚫 Sandbox image `web` cancelled/);

    gh.reset();
    gh.addFault({ endpoint: 'list-comments', delayMs: 30_000 });
    gh.addFault({ endpoint: 'statuses', delayMs: 30_000 });
    const hung = await run(s, await appProject(), PR_INPUTS, {
      env,
      killOn: { pattern: /Running offline rootfs builder/, signal: 'SIGINT' },
    });
    assert.equal(hung.code, 1);
    assert.ok(hung.exitAfterSignalMs! < 5000, `exited ${hung.exitAfterSignalMs} ms after SIGINT with GitHub hanging`);
    assert.ok(
      warnings(hung).some((m) => /was not written: no time left/.test(m)),
      warnings(hung).join('\n'),
    );
  });

  it('push: a status on the pushed commit, no comment, and a notice saying why', async () => {
    const r = await run(s, await appProject(), PR_INPUTS, {
      env: await githubEnv(gh, 'push', { after: PUSHED, ref: 'refs/heads/main' }),
    });
    assert.equal(r.code, 0, r.stdout);
    const st = gh.state();
    assert.deepEqual(
      st.statuses.map((x) => [x.sha, x.state]),
      [
        [PUSHED, 'pending'],
        [PUSHED, 'success'],
      ],
    );
    assert.equal(st.requests.filter((q) => q.endpoint !== 'statuses').length, 0, 'no comment calls');
    const n = r.annotations.filter((a) => a.level === 'notice' && /pr-comment/.test(a.message));
    assert.equal(n.length, 1);
    assert.match(n[0].message, /no pull request/);
  });

  it('other events: one notice why the PR features do nothing, no GitHub request', async () => {
    const r = await run(s, await appProject(), PR_INPUTS, { env: await githubEnv(gh, 'workflow_dispatch', { inputs: {} }) });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(gh.state().requests.length, 0);
    const n = r.annotations.filter((a) => a.level === 'notice');
    assert.equal(n.length, 1);
    assert.match(
      n[0].message,
      /commit-status and pr-comment do nothing here: 'workflow_dispatch' events .* pull_request, pull_request_target and push/,
    );
  });

  it('several images in one step: one status and one comment per image, a failed one reported as such', async () => {
    const ws = await appProject({
      'a/Dockerfile': 'FROM python:3.12-slim\nRUN echo a\n',
      'b/Dockerfile': 'FROM python:3.12-slim\nRUN echo b\n',
    });
    s.addFaults({ kind: 'builderFail', exitCode: 4, templateName: 'b' });
    const images = '- dockerfile: a/Dockerfile\n  name: a\n- dockerfile: b/Dockerfile\n  name: b\n';
    const env = await githubEnv(gh, 'pull_request', prPayload());
    const { name: _unused, ...inputs } = PR_INPUTS;
    const r = await run(s, ws, { ...inputs, images }, { env });
    assert.equal(r.code, 1);
    const st = gh.state();
    const byContext = (c: string) => st.statuses.filter((x) => x.context === c).map((x) => x.state);
    assert.deepEqual(byContext('sandbox-image/a'), ['pending', 'success']);
    assert.deepEqual(byContext('sandbox-image/b'), ['pending', 'failure']);
    assert.deepEqual(st.comments.map((c) => c.body.split('\n')[0]).sort(), [
      '<!-- sbx-image-action:image=a -->',
      '<!-- sbx-image-action:image=b -->',
    ]);
    const again = await run(s, ws, { ...inputs, images }, { env });
    assert.equal(again.code, 0, again.stdout);
    assert.equal(gh.state().comments.length, 2, 'updated, not duplicated');
    assert.ok(gh.state().comments.every((c) => c.updates === 1));
  });

  it('features off (the default): no GitHub request at all', async () => {
    const r = await run(
      s,
      await appProject(),
      { 'github-token': FAKE_GITHUB_TOKEN },
      { env: await githubEnv(gh, 'pull_request', prPayload()) },
    );
    assert.equal(r.code, 0);
    assert.equal(gh.state().requests.length, 0);
  });
});

describe('plan-only runs (dry-run) end to end', () => {
  let s: SimulatorHandle;
  simulatorForSuite((h) => (s = h));

  /** A fork's pull_request run: GitHub hands it no secrets, so no api-key. */
  async function forkRun(ws: string, inputs: Record<string, string> = {}, gh?: GitHubFakeHandle): Promise<ActionRun> {
    const env: Record<string, string> = {
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_EVENT_PATH: await eventFile(prPayload({ headRepo: 'stranger/app' })),
      GITHUB_REPOSITORY: REPO,
      GITHUB_SHA: MERGE,
      ...(gh ? { GITHUB_API_URL: gh.url } : {}),
    };
    return runAction({ workspace: ws, inputs: { 'api-url': s.url, ...inputs }, env, timeoutMs: 60_000 });
  }

  it('a fork PR without credentials plans only: a passing step, a summary of what would be built, no platform request', async () => {
    const before = s.state().requests.length;
    const ws = await appProject({ 'assets/big.bin': 'x'.repeat(50_000), 'assets/mid.bin': 'y'.repeat(20_000) });
    const r = await forkRun(ws);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(s.state().requests.length - before, 0, 'the simulator saw no request');
    assert.equal(r.outputs.status, 'planned');
    assert.match(r.outputs['context-digest'], /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(r.groups, ['Plan', 'Package']);
    const notice = r.annotations.filter((a) => a.level === 'notice');
    assert.equal(notice.length, 1);
    assert.match(notice[0].message, /fork stranger\/app.*no secrets.*nothing is sent to the platform/);
    // the ignored instructions are annotated like in a real build
    assert.deepEqual(
      r.annotations
        .filter((a) => a.level === 'warning' && a.props.file === 'Dockerfile')
        .map((a) => a.props.line)
        .sort(),
      ['10', '9'],
    );
    assert.match(r.summary, /Tensorlake sandbox image `.+` planned \(plan only: nothing was built\)/);
    assert.match(r.summary, /\| Base image \| `python:3\.12-slim` \|/);
    assert.match(r.summary, /\| Context digest \| `sha256:[0-9a-f]{64}` \|/);
    assert.match(r.summary, /\| Context \| 6 files/);
    assert.match(r.summary, /\| Largest files \| `assets\/big\.bin` \(48\.8 KiB\), `assets\/mid\.bin` \(19\.5 KiB\)/);
    assert.match(r.summary, /Ignored instructions: line 9, line 10/);
    assert.match(r.summary, /\| Plan only \| a pull request from a fork/);
  });

  it('a fork PR without credentials and a broken Dockerfile fails with an error annotation, still without a platform request', async () => {
    const before = s.state().requests.length;
    const ws = await appProject({}, 'FROM python:3.12\nRUN echo ok\nFROOM typo\n');
    const r = await forkRun(ws);
    assert.equal(r.code, 1);
    assert.equal(s.state().requests.length - before, 0);
    const errors = r.annotations.filter((a) => a.level === 'error' && a.props.file === 'Dockerfile');
    assert.equal(errors.length, 1, JSON.stringify(r.annotations));
    assert.equal(errors[0].props.line, '3');
    assert.match(errors[0].message, /unknown instruction: FROOM/);
    assert.equal(r.outputs.status, 'failed');
    assert.match(r.summary, /failed \(plan only\)/);
  });

  it('dry-run: true with credentials makes no platform request either; dry-run: false on a fork keeps the missing-credentials error', async () => {
    const before = s.state().requests.length;
    const ws = await appProject();
    const r = await runAction({ workspace: ws, inputs: { 'api-key': SIM_KEY, 'api-url': s.url, 'dry-run': 'true' }, timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.outputs.status, 'planned');
    assert.equal(s.state().requests.length - before, 0);
    assertNoSecrets(r, [SIM_KEY]);

    const strict = await forkRun(ws, { 'dry-run': 'false' });
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /Input 'api-key': no credentials/);
    assert.equal(s.state().requests.length - before, 0);
  });

  it('a fork PR without credentials and several images: each image planned locally, no platform request', async () => {
    const before = s.state().requests.length;
    const ws = await appProject({ 'a/Dockerfile': 'FROM python:3.12-slim\nRUN echo a\n', 'b/Dockerfile': 'FROM a\nRUN echo b\n' });
    const r = await forkRun(ws, { images: '- dockerfile: a/Dockerfile\n  name: a\n- dockerfile: b/Dockerfile\n  name: b\n' });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(s.state().requests.length - before, 0);
    assert.equal(r.outputs.status, 'planned');
    const results = JSON.parse(r.outputs.results) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(results).sort(), ['a', 'b']);
    for (const v of Object.values(results)) {
      assert.equal(v.status, 'planned');
      assert.match(v['context-digest'], /^sha256:[0-9a-f]{64}$/);
    }
    assert.deepEqual(
      (JSON.parse(r.outputs.matrix) as { name: string; layer: number }[]).map((m) => [m.name, m.layer]),
      [
        ['a', 0],
        ['b', 1],
      ],
    );
  });

  it('a fork PR plan-only run with the PR features on: a read-only token’s 403 is a warning naming the permission', async () => {
    const gh = await startGitHubFake({ permissions: { statuses: false, pullRequests: false } });
    try {
      const r = await forkRun(await appProject(), { 'commit-status': 'true', 'pr-comment': 'true', 'github-token': FAKE_GITHUB_TOKEN }, gh);
      assert.equal(r.code, 0, r.stdout);
      assert.equal(r.outputs.status, 'planned');
      const w = warnings(r).filter((m) => /GitHub answered 403/.test(m));
      assert.ok(w.length >= 2, warnings(r).join('\n'));
      assert.ok(w.some((m) => /`statuses: write`/.test(m)));
      assert.ok(w.some((m) => /`pull-requests: write`/.test(m)));
      assert.ok(w.every((m) => /comes from a fork/.test(m)));
      assertNoSecrets(r, [FAKE_GITHUB_TOKEN]);
    } finally {
      await gh.stop();
    }
  });
});
