/**
 * Runs the action the way GitHub does: a separate Node process with INPUT_* variables and the
 * runner's files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_STATE), then parses what it wrote.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The one bundle action.yml runs for both steps (main and post), and its source entry. */
export const DIST_MAIN = join(ROOT, 'dist', 'index.js');
export const SRC_MAIN = join(ROOT, 'src', 'index.ts');

export const SIM_KEY = 'tl_sim_key_0123456789';
export const SIM_PAT = 'tl_sim_pat_0123456789';

export interface Annotation {
  level: 'warning' | 'error' | 'notice';
  message: string;
  props: Record<string, string>;
}

export interface ActionRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  groups: string[];
  annotations: Annotation[];
  /** stdout lines that are not workflow commands */
  lines: string[];
  dir: string;
  /** ms between the killOn signal and the process exit */
  exitAfterSignalMs?: number;
}

/** Parses the runner's `name<<delim` file format (GITHUB_OUTPUT, GITHUB_STATE). */
export function parseRunnerFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
      out[m[1]] = value.join('\n');
    } else if (lines[i].includes('=')) {
      const j = lines[i].indexOf('=');
      out[lines[i].slice(0, j)] = lines[i].slice(j + 1);
    }
  }
  return out;
}

function unescapeData(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

function unescapeProp(s: string): string {
  return unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',');
}

export interface RunnerCommand {
  /** the command's name (`add-mask`, `stop-commands`, `warning`, ...) */
  name: string;
  /** what follows the command, unescaped */
  data: string;
  form: '::' | '##[';
  /** the physical line the runner read */
  line: string;
}

/**
 * What GitHub's runner would execute in this output, modelled on its parser: it ends a line at
 * `\n`, `\r\n` and a lone `\r`; a line is a command when, after leading whitespace, it starts with
 * `::name`, or (the legacy form) when it holds `##[name` anywhere.
 */
export function runnerCommands(output: string): RunnerCommand[] {
  const found: RunnerCommand[] = [];
  for (const line of output.split(/\r\n|\r|\n/)) {
    const v2 = /^::([A-Za-z0-9_-]+)(?: [^:]*)?::(.*)$/.exec(line.trimStart());
    if (v2) {
      found.push({ name: v2[1], data: unescapeData(v2[2]), form: '::', line });
      continue;
    }
    const v1 = /##\[([A-Za-z0-9_-]+)[^\]]*\](.*)$/.exec(line);
    if (v1) found.push({ name: v1[1], data: unescapeData(v1[2]), form: '##[', line });
  }
  return found;
}

export function parseCommands(stdout: string): { groups: string[]; annotations: Annotation[]; lines: string[] } {
  const groups: string[] = [];
  const annotations: Annotation[] = [];
  const lines: string[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^::([a-z-]+)( [^:]*)?::(.*)$/.exec(line);
    if (!m) {
      lines.push(line);
      continue;
    }
    const [, cmd, rawProps, data] = m;
    if (cmd === 'group') groups.push(unescapeData(data));
    if (cmd === 'warning' || cmd === 'error' || cmd === 'notice') {
      const props: Record<string, string> = {};
      for (const kv of (rawProps ?? '').trim().split(',').filter(Boolean)) {
        const k = kv.indexOf('=');
        props[kv.slice(0, k)] = unescapeProp(kv.slice(k + 1));
      }
      annotations.push({ level: cmd, message: unescapeData(data), props });
    }
  }
  return { groups, annotations, lines };
}

export interface RunActionOptions {
  inputs: Record<string, string>;
  env?: Record<string, string>;
  /** 'dist' runs the committed bundle (default), 'src' the TypeScript through tsx */
  entry?: 'dist' | 'src';
  post?: boolean;
  /** send this signal once stdout matches */
  killOn?: { pattern: RegExp; signal: NodeJS.Signals; delayMs?: number };
  workspace?: string;
  timeoutMs?: number;
  /** copy the action's stdout/stderr to this process as it runs (the demo); a function may rewrite or drop (undefined) stdout lines */
  echo?: boolean | ((line: string) => string | undefined);
  /** state passed to a post step (STATE_<name>) */
  state?: Record<string, string>;
}

export async function runAction(opts: RunActionOptions): Promise<ActionRun> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-e2e-'));
  const files = { output: join(dir, 'output'), summary: join(dir, 'summary.md'), state: join(dir, 'state'), home: join(dir, 'home') };
  await writeFile(files.output, '');
  await writeFile(files.summary, '');
  await writeFile(files.state, '');
  await mkdir(files.home, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: files.home,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_STATE: files.state,
    GITHUB_WORKSPACE: opts.workspace ?? ROOT,
    RUNNER_TEMP: dir,
    NODE_NO_WARNINGS: '1',
  };
  for (const [k, v] of Object.entries(opts.inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  for (const [k, v] of Object.entries(opts.state ?? {})) env[`STATE_${k}`] = v;
  // the main step saves isPost first thing, so GitHub's post step always has it (src/step.ts)
  if (opts.post) env.STATE_isPost = 'true';
  Object.assign(env, opts.env);
  const entry = opts.entry ?? 'dist';
  const script = entry === 'dist' ? DIST_MAIN : SRC_MAIN;
  const args = entry === 'src' ? ['--import', 'tsx', script] : [script];
  const child = spawn(process.execPath, args, { cwd: opts.workspace ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let killed = false;
  let killedAt = 0;
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    if (typeof opts.echo === 'function') {
      pending += d;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const l of parts) {
        const out = opts.echo(l);
        if (out !== undefined) process.stdout.write(out + '\n');
      }
    } else if (opts.echo) process.stdout.write(d);
    if (opts.killOn && !killed && opts.killOn.pattern.test(stdout)) {
      killed = true;
      const { signal, delayMs } = opts.killOn;
      const fire = () => {
        killedAt = Date.now();
        child.kill(signal);
      };
      if (delayMs) setTimeout(fire, delayMs);
      else fire();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (opts.echo) process.stderr.write(d);
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(timeout);
  const exitedAt = Date.now();
  const { groups, annotations, lines } = parseCommands(stdout);
  return {
    code,
    signal,
    stdout,
    stderr,
    outputs: parseRunnerFile(await readFile(files.output, 'utf8')),
    state: parseRunnerFile(await readFile(files.state, 'utf8')),
    summary: await readFile(files.summary, 'utf8'),
    groups,
    annotations,
    lines,
    dir,
    exitAfterSignalMs: killed ? exitedAt - killedAt : undefined,
  };
}

/** Everything the action printed or wrote, minus the add-mask commands (which is how masking works). */
export function visibleText(run: ActionRun): string {
  const stdout = run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
  return [stdout, run.stderr, run.summary, ...Object.values(run.outputs)].join('\n');
}

export async function cleanupRun(run: ActionRun): Promise<void> {
  await rm(run.dir, { recursive: true, force: true });
}

/** Makes a throwaway project directory with the given files. */
export async function makeProject(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sbx-proj-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  return dir;
}
