/**
 * Turns build events into GitHub log output: one log group per phase, the builder's log streamed
 * live (stderr lines marked), progress lines, and annotations for Dockerfile warnings (capped; the
 * rest go to the summary). Every line passes through the secret redactor.
 */
import type { BuildEvents, Phase, TransferProgress } from '../pipeline/events.js';
import { PHASE_TITLES } from '../pipeline/events.js';
import type { PlanWarning } from '../dockerfile/plan.js';
import { formatBytes } from '../format.js';
import { guardedCore, type CorePort } from './core-port.js';
import { oneLine } from './untrusted.js';
import type { PostStateWriter } from '../post-state.js';

export const MAX_ANNOTATIONS_PER_LEVEL = 10;
/** builder log lines kept for the summary of a failed build */
export const LOG_TAIL_LINES = 30;

export interface ReporterOptions {
  annotations: boolean;
  redact: (s: string) => string;
  /** where the builder sandboxes the post step must delete are recorded (one per step, shared by its builds) */
  postState: PostStateWriter;
  /** a prefix for every line, to tell builds apart when several run in one step */
  label?: string;
}

export class GitHubReporter implements BuildEvents {
  private inGroup = false;
  private warningsAnnotated = 0;
  private errorsAnnotated = 0;
  /** warnings that did not become annotations (over the cap, or annotations off) */
  readonly overflow: string[] = [];
  private lastProgress = new Map<string, number>();
  /** the last builder log lines (redacted), shown in the summary when the build fails */
  readonly logTail: string[] = [];

  private readonly core: CorePort;

  constructor(
    core: CorePort,
    private readonly opts: ReporterOptions,
  ) {
    // builder lines and platform fields pass through here: neutralise every info line
    this.core = guardedCore(core);
  }

  private line(text: string): void {
    const t = this.opts.redact(text);
    this.core.info(this.opts.label ? `[${this.opts.label}] ${t}` : t);
  }

  phaseStart(phase: Phase): void {
    if (this.inGroup) this.core.endGroup();
    this.core.startGroup(this.opts.redact(`${this.opts.label ? `[${this.opts.label}] ` : ''}${PHASE_TITLES[phase]}`));
    this.inGroup = true;
  }

  phaseEnd(phase: Phase, outcome: 'ok' | 'failed' | 'skipped', ms: number): void {
    this.line(`${PHASE_TITLES[phase]}: ${outcome} in ${(ms / 1000).toFixed(1)}s`);
    if (this.inGroup) this.core.endGroup();
    this.inGroup = false;
  }

  /** Closes a group left open (the run ends mid-phase). */
  close(): void {
    if (this.inGroup) this.core.endGroup();
    this.inGroup = false;
  }

  /** One status line; values from the platform it embeds cannot start a line of their own. */
  status(message: string): void {
    this.line(oneLine(message));
  }

  buildLog(stream: 'stdout' | 'stderr', line: string): void {
    const text = stream === 'stderr' ? `[stderr] ${line}` : line;
    this.line(text);
    this.logTail.push(this.opts.redact(text));
    if (this.logTail.length > LOG_TAIL_LINES) this.logTail.shift();
  }

  progress(p: TransferProgress): void {
    const key = p.kind;
    const last = this.lastProgress.get(key);
    if (last !== undefined && p.percent === last) return;
    this.lastProgress.set(key, p.percent);
    const what = p.kind === 'archive' ? 'Creating build context archive' : 'Uploading build context archive';
    const files = p.files !== undefined && p.totalFiles !== undefined ? `, ${p.files}/${p.totalFiles} files` : '';
    this.line(
      `${what}: ${p.percent}% (${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}${files}, ${formatBytes(Math.round(p.rate))}/s)`,
    );
  }

  planWarning(w: PlanWarning, file?: string): void {
    const text = this.opts.redact(w.message);
    if (this.opts.annotations && this.warningsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      // the annotation command prints in the log too
      this.warningsAnnotated++;
      this.core.warning(text, { title: `Dockerfile: ${w.kind}`, file, startLine: w.line });
    } else {
      this.line(`warning: ${w.line !== undefined && !text.startsWith('line ') ? `line ${w.line}: ` : ''}${text}`);
      this.overflow.push(`${file ?? 'Dockerfile'}${w.line !== undefined ? `:${w.line}` : ''}: ${text}`);
    }
  }

  warning(message: string): void {
    const text = this.opts.redact(message);
    if (this.warningsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      this.warningsAnnotated++;
      this.core.warning(text);
    } else {
      this.overflow.push(text);
      this.line(`warning: ${text}`);
    }
  }

  /** An error annotation (a Dockerfile syntax error gets its file and line). */
  errorAnnotation(message: string, props?: { file?: string; line?: number; title?: string }): void {
    const text = this.opts.redact(message);
    if (this.opts.annotations && this.errorsAnnotated < MAX_ANNOTATIONS_PER_LEVEL) {
      this.errorsAnnotated++;
      this.core.error(text, { title: props?.title, file: props?.file, startLine: props?.line });
    } else {
      this.overflow.push(text);
    }
  }

  sandboxNaming(name: string): void {
    this.opts.postState.addName(name);
  }

  sandboxNameSettled(name: string): void {
    this.opts.postState.removeName(name);
  }

  sandboxCreated(id: string): void {
    this.opts.postState.addSandbox(id);
  }

  sandboxDeleted(id: string): void {
    this.opts.postState.removeSandbox(id);
  }
}
