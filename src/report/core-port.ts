/**
 * The slice of @actions/core the reporter uses. main.ts passes the real module; tests may pass a
 * recorder. Keeping it an interface keeps the report code free of global state.
 */
import { breakLegacyMarkers, neutraliseLog } from './untrusted.js';

export interface AnnotationProps {
  title?: string;
  file?: string;
  startLine?: number;
}

export interface CorePort {
  info(message: string): void;
  debug(message: string): void;
  warning(message: string, props?: AnnotationProps): void;
  error(message: string, props?: AnnotationProps): void;
  notice(message: string, props?: AnnotationProps): void;
  startGroup(name: string): void;
  endGroup(): void;
  setOutput(name: string, value: string): void;
  saveState(name: string, value: string): void;
  setFailed(message: string): void;
  setSecret(value: string): void;
}

/**
 * The runner-facing core every part of the action prints through: `info` lines are neutralised
 * (src/report/untrusted.ts), so no text from the builder, the platform or a file name can issue a
 * workflow command. The other functions issue commands on purpose and escape their data themselves.
 */
export function guardedCore<C extends Partial<CorePort> & Pick<CorePort, 'info'>>(core: C): C {
  const guarded: Partial<CorePort> = { info: (message) => core.info(neutraliseLog(message)) };
  // The runner reads `##[` anywhere in a line; in a command's data it only matters if the command
  // itself does not parse, but nothing the action prints should depend on that.
  for (const fn of ['debug', 'warning', 'error', 'notice', 'setFailed', 'startGroup'] as const) {
    const original = core[fn] as ((message: string, ...rest: unknown[]) => void) | undefined;
    if (original)
      (guarded as Record<string, unknown>)[fn] = (message: string, ...rest: unknown[]) => original(breakLegacyMarkers(message), ...rest);
  }
  return { ...core, ...guarded };
}
