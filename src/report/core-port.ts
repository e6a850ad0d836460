/**
 * The slice of @actions/core the reporter uses. main.ts passes the real module; tests may pass a
 * recorder. Keeping it an interface keeps the report code free of global state.
 */
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
