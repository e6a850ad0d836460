/**
 * Reading one input: where inputs come from (a getter and the environment, so tests and several
 * builds per step need no global state), the typed readers (booleans, numbers, durations), and the
 * error that names the input and what was wrong.
 */
import { ActionError } from './errors.js';
import type { RunContext } from './feedback/run-context.js';

export interface InputSource {
  /** The raw value of an input (as GitHub passes it: INPUT_<NAME>), '' when unset. */
  input(name: string): string;
  env: Record<string, string | undefined>;
  /** Directory relative paths are resolved against (GITHUB_WORKSPACE, else cwd). */
  workspace: string;
  /** The run's event facts (`dry-run: auto` looks at them); none outside a workflow run. */
  run?: RunContext;
}

export function inputError(input: string, problem: string): ActionError {
  return new ActionError(`Input '${input}': ${problem}`, { kind: 'input', input });
}

export function boolInput(src: InputSource, name: string, dflt: boolean): boolean {
  const raw = src.input(name).trim();
  if (raw === '') return dflt;
  if (/^(true|yes|on|1)$/i.test(raw)) return true;
  if (/^(false|no|off|0)$/i.test(raw)) return false;
  throw inputError(name, `expected true or false, got '${raw}'`);
}

export function positiveNumber(src: InputSource, name: string, opts: { integer: boolean; min?: number; max?: number }): number | undefined {
  const raw = src.input(name).trim();
  if (raw === '') return undefined;
  const re = opts.integer ? /^\d+$/ : /^(\d+(\.\d*)?|\.\d+)$/;
  const n = Number(raw);
  if (!re.test(raw) || !Number.isFinite(n)) {
    throw inputError(name, `expected ${opts.integer ? 'a whole number' : 'a number'}, got '${raw}'`);
  }
  const min = opts.min ?? 1;
  if (n < min) throw inputError(name, `must be at least ${min}, got ${raw}`);
  if (opts.max !== undefined && n > opts.max) throw inputError(name, `must be at most ${opts.max}, got ${raw}`);
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `90`, `90s`, `1.5m`, `2h`, `500ms`, or combinations like `1h30m`. A bare number is seconds. */
export function parseDuration(raw: string): number | undefined {
  const text = raw.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) return undefined;
  return Math.round(total);
}

/** A duration input: `dflt` when unset, refused outside [minMs, maxMs]. */
export function durationInput(src: InputSource, name: string, range: { dflt: string; minMs: number; maxMs: number }): number {
  const { dflt, minMs, maxMs } = range;
  const raw = src.input(name).trim() || dflt;
  const ms = parseDuration(raw);
  if (ms === undefined) throw inputError(name, `expected a duration like 90s, 30m or 1h, got '${raw}'`);
  if (ms < minMs) throw inputError(name, `must be at least ${minMs / 1000}s, got '${raw}'`);
  if (ms > maxMs) throw inputError(name, `must be at most ${maxMs / 3_600_000}h, got '${raw}'`);
  return ms;
}

/** An input, else its environment fallback. */
export function pick(src: InputSource, input: string, envName: string): string {
  return src.input(input).trim() || (src.env[envName] ?? '').trim();
}
