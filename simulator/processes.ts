/**
 * Process table entries with replayable output (§6.2) and the two SSE renderings:
 * the follow stream (replays the whole history, then live, closes after exit) and the
 * `/processes/run` lifecycle stream (started, output…, exited).
 */
import type { ServerResponse } from 'node:http';
import type { JsonObject, ProcessState } from './types.js';

export interface OutputEvent {
  line: string;
  stream: 'stdout' | 'stderr';
  timestamp: string;
}

export type ExitResult = { kind: 'exit'; code: number } | { kind: 'signal'; signal: number } | { kind: 'oom' };

export class ProcessKilled extends Error {
  constructor() {
    super('process killed');
  }
}

export interface StartPayload {
  command: string;
  args: string[];
  env?: Record<string, string>;
  working_dir?: string;
  user?: string;
  timeout?: number;
}

export class SimProcess {
  readonly output: OutputEvent[] = [];
  readonly startedAt = new Date().toISOString();
  endedAt?: string;
  status = 'running';
  exitCode?: number;
  signal?: number;
  oomKilled = false;
  private readonly listeners = new Set<() => void>();
  private readonly abort = new AbortController();

  constructor(
    readonly pid: number,
    readonly payload: StartPayload,
  ) {}

  get running(): boolean {
    return this.status === 'running';
  }

  get aborted(): boolean {
    return this.abort.signal.aborted;
  }

  emit(line: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    if (!this.running) return;
    this.output.push({ line, stream, timestamp: new Date().toISOString() });
    this.notify();
  }

  finish(result: ExitResult): void {
    if (!this.running) return;
    this.endedAt = new Date().toISOString();
    if (result.kind === 'exit') {
      this.status = 'exited';
      this.exitCode = result.code;
    } else if (result.kind === 'signal') {
      this.status = 'signaled';
      this.signal = result.signal;
    } else {
      this.status = 'oom_killed';
      this.signal = 9;
      this.oomKilled = true;
    }
    this.abort.abort();
    this.notify();
  }

  /** kill (SIGKILL by default); running sleeps reject with ProcessKilled */
  kill(signal = 9): void {
    this.finish({ kind: 'signal', signal });
  }

  /** resolves after ms, rejects with ProcessKilled when the process is killed meanwhile */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.abort.signal.aborted) return reject(new ProcessKilled());
      const t = setTimeout(() => {
        this.abort.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        reject(new ProcessKilled());
      };
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify(): void {
    for (const fn of [...this.listeners]) fn();
  }

  info(): JsonObject {
    const o: JsonObject = {
      pid: this.pid,
      status: this.status,
      command: this.payload.command,
      args: this.payload.args,
      started_at: this.startedAt,
      oom_killed: this.oomKilled,
      stdin_writable: false,
    };
    if (this.exitCode !== undefined) o.exit_code = this.exitCode;
    if (this.signal !== undefined) o.signal = this.signal;
    if (this.endedAt) o.ended_at = this.endedAt;
    return o;
  }

  stateView(): ProcessState {
    return {
      pid: this.pid,
      command: this.payload.command,
      args: [...this.payload.args],
      user: this.payload.user,
      working_dir: this.payload.working_dir,
      status: this.status,
      exit_code: this.exitCode,
      signal: this.signal,
      oom_killed: this.oomKilled,
      started_at: this.startedAt,
      ended_at: this.endedAt,
      lines: this.output.length,
      output: this.output.map((e) => ({ stream: e.stream, line: e.line })),
    };
  }
}

function sseHeaders(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
}

/**
 * Cut the connection after what was written so far has been flushed (fault injection). The cut
 * waits one turn of the event loop: Node 24 keeps a response's writes corked until the next tick,
 * and ending the socket before that loses them (the client would see none of the lines before the cut).
 */
function drop(res: ServerResponse): void {
  setImmediate(() => {
    const sock = res.socket;
    if (sock) sock.destroySoon();
    else res.destroy();
  });
}

function writeEvent(res: ServerResponse, payload: unknown): void {
  res.write(`data: ${JSON.stringify(payload)}\n\n`);
}

interface StreamOptions {
  dropAfter?: number;
  onClose?: () => void;
}

/**
 * Streams a process's output as SSE: every event from the start, then live ones, until the
 * process has exited and everything is written; then `last` (if any) and the end of the stream.
 * `dropAfter` destroys the socket after that many output events (fault injection).
 */
function streamOutput(res: ServerResponse, proc: SimProcess, opts: StreamOptions, last?: () => JsonObject): void {
  let sent = 0;
  let done = false;
  const cleanup = (): void => {
    if (done) return;
    done = true;
    unsubscribe();
    opts.onClose?.();
  };
  const dropNow = (): boolean => {
    if (opts.dropAfter === undefined || sent < opts.dropAfter) return false;
    cleanup();
    drop(res);
    return true;
  };
  const flush = (): void => {
    if (done) return;
    while (sent < proc.output.length) {
      if (dropNow()) return;
      writeEvent(res, proc.output[sent]);
      sent++;
    }
    if (proc.running) {
      dropNow();
      return;
    }
    if (last) writeEvent(res, last());
    cleanup();
    res.end();
  };
  const unsubscribe = proc.onChange(flush);
  res.on('close', cleanup);
  flush();
}

/** Follow stream (§6.2): replays the full history on every request, then continues live. */
export function followOutput(res: ServerResponse, proc: SimProcess, opts: StreamOptions = {}): void {
  sseHeaders(res);
  streamOutput(res, proc, opts);
}

/** `/processes/run` stream (§10.1): started, output…, exited */
export function runStream(res: ServerResponse, proc: SimProcess, opts: StreamOptions = {}): void {
  sseHeaders(res);
  writeEvent(res, { pid: proc.pid, started_at: proc.startedAt });
  streamOutput(res, proc, opts, () => {
    const exit: JsonObject = { oom_killed: proc.oomKilled };
    if (proc.exitCode !== undefined) exit.exit_code = proc.exitCode;
    if (proc.signal !== undefined) exit.signal = proc.signal;
    exit.ended_at = proc.endedAt ?? null;
    return exit;
  });
}
