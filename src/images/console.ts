/**
 * One runner log shared by several builds: each build gets its own CorePort, and the log stays
 * readable. A build that opens a log group owns the log until it closes the group: it writes live,
 * while the others' lines are held back and written, whole groups at a time, once the owner closes
 * its group. So a group only ever holds one image's lines, and lines never interleave (every write
 * is one whole line). Outputs and secrets pass straight through; the sandbox lists each reporter
 * saves for the post step are merged, so none overwrites another's.
 */
import type { AnnotationProps, CorePort } from '../report/core-port.js';

type Write = () => void;

interface Port {
  /** writes held back while another port owns the log */
  held: Write[];
  inGroup: boolean;
}

export class SharedConsole {
  private owner: Port | undefined;
  private readonly ports: Port[] = [];
  /** ports with held writes, in the order they started waiting */
  private readonly waiting: Port[] = [];

  constructor(private readonly core: CorePort) {}

  /** A CorePort for one build. */
  port(): CorePort {
    const p: Port = { held: [], inGroup: false };
    this.ports.push(p);
    const write = (w: Write) => this.write(p, w);
    const core = this.core;
    return {
      info: (m) => write(() => core.info(m)),
      debug: (m) => write(() => core.debug(m)),
      warning: (m, props?: AnnotationProps) => write(() => core.warning(m, props)),
      error: (m, props?: AnnotationProps) => write(() => core.error(m, props)),
      notice: (m, props?: AnnotationProps) => write(() => core.notice(m, props)),
      startGroup: (name) => this.startGroup(p, name),
      endGroup: () => this.endGroup(p),
      setOutput: (n, v) => core.setOutput(n, v),
      setSecret: (v) => core.setSecret(v),
      setFailed: (m) => core.setFailed(m),
      saveState: (n, v) => core.saveState(n, v),
    };
  }

  /** Writes everything still held (the run is over). */
  flush(): void {
    this.owner = undefined;
    while (this.waiting.length) this.release(this.waiting.shift()!);
  }

  private write(p: Port, w: Write): void {
    if (this.owner === undefined || this.owner === p) {
      // a port with held writes must not jump ahead of them
      if (p.held.length === 0) return w();
    }
    this.hold(p, w);
  }

  private hold(p: Port, w: Write): void {
    if (p.held.length === 0 && !this.waiting.includes(p)) this.waiting.push(p);
    p.held.push(w);
  }

  private startGroup(p: Port, name: string): void {
    p.inGroup = true;
    if ((this.owner === undefined || this.owner === p) && p.held.length === 0) {
      this.owner = p;
      this.core.startGroup(name);
    } else this.hold(p, () => this.core.startGroup(name));
  }

  private endGroup(p: Port): void {
    p.inGroup = false;
    if (this.owner === p) {
      this.core.endGroup();
      this.owner = undefined;
      this.handOver();
    } else this.hold(p, () => this.core.endGroup());
  }

  /** The log is free: write what others held, until one of them is in the middle of a group. */
  private handOver(): void {
    while (this.owner === undefined && this.waiting.length) {
      const next = this.waiting.shift()!;
      this.release(next);
      if (next.inGroup) this.owner = next;
    }
  }

  private release(p: Port): void {
    const held = p.held.splice(0);
    const i = this.waiting.indexOf(p);
    if (i >= 0) this.waiting.splice(i, 1);
    for (const w of held) w();
  }
}
