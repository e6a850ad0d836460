/**
 * The state the main step leaves for the post step (core.saveState / core.getState): the builder
 * sandboxes it created and has not deleted yet, by id, and the names of sandboxes whose create
 * may have landed without an answer. This module owns the keys; the reporter writes through
 * PostStateWriter, the post step reads with readPostState.
 */

/** The state keys (the runner keeps them per step, as STATE_<key>). */
export const STATE_KEYS = {
  sandboxIds: 'builder-sandboxes',
  sandboxNames: 'builder-sandbox-names',
  /** `<name>@<epoch ms>`: when each name was about to be used for a create (the post step's sweep window starts there) */
  namedAt: 'builder-sandbox-named-at',
} as const;

/** Keeps the two lists and saves each one whenever it changes. */
export class PostStateWriter {
  private readonly ids: string[] = [];
  private readonly names: string[] = [];
  private readonly namedAt: string[] = [];

  constructor(private readonly save: (key: string, value: string) => void) {}

  /** The sandboxes created and not yet deleted. */
  get sandboxIds(): readonly string[] {
    return this.ids;
  }

  addSandbox(id: string): void {
    if (!this.ids.includes(id)) this.ids.push(id);
    this.save(STATE_KEYS.sandboxIds, JSON.stringify(this.ids));
  }

  removeSandbox(id: string): void {
    remove(this.ids, id);
    this.save(STATE_KEYS.sandboxIds, JSON.stringify(this.ids));
  }

  /** A create under this name is about to be sent (now, by the wall clock). */
  addName(name: string, at = Date.now()): void {
    if (!this.names.includes(name)) this.names.push(name);
    this.namedAt.push(`${name}@${at}`);
    this.save(STATE_KEYS.sandboxNames, JSON.stringify(this.names));
    this.save(STATE_KEYS.namedAt, JSON.stringify(this.namedAt));
  }

  removeName(name: string): void {
    remove(this.names, name);
    this.save(STATE_KEYS.sandboxNames, JSON.stringify(this.names));
  }
}

export interface PostState {
  sandboxIds: string[];
  sandboxNames: string[];
  /** when the create of each name was sent (epoch ms; the latest, when a name was used twice) */
  namedAt: Record<string, number>;
}

/** Reads what the main step left; an unreadable list is skipped with a warning. */
export function readPostState(getState: (key: string) => string, warn: (message: string) => void): PostState {
  const list = (key: string): string[] => {
    try {
      const raw = getState(key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string' && x !== '') : [];
    } catch {
      warn(`Post step: the saved ${key} list is unreadable; it is skipped.`);
      return [];
    }
  };
  const namedAt: Record<string, number> = {};
  for (const entry of list(STATE_KEYS.namedAt)) {
    const at = entry.lastIndexOf('@');
    const ms = Number(entry.slice(at + 1));
    if (at > 0 && Number.isFinite(ms)) namedAt[entry.slice(0, at)] = Math.max(namedAt[entry.slice(0, at)] ?? 0, ms);
  }
  return { sandboxIds: list(STATE_KEYS.sandboxIds), sandboxNames: list(STATE_KEYS.sandboxNames), namedAt };
}

function remove(list: string[], value: string): void {
  const i = list.indexOf(value);
  if (i >= 0) list.splice(i, 1);
}
