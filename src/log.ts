/** The logging surface every layer writes through (GitHub's core functions in the action, a buffer in tests). */
export interface Log {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
}

/** A log whose every line goes through `redact` before it reaches `to`. */
export function redactingLog(to: Log, redact: (s: string) => string): Log {
  return {
    debug: (m) => to.debug(redact(m)),
    info: (m) => to.info(redact(m)),
    warning: (m) => to.warning(redact(m)),
  };
}
