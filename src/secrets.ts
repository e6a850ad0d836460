/**
 * Secret values known to one run. Every value is masked for the runner (core.setSecret through the
 * injected `mask`) the moment it is registered, before anything can print it, and `redact` removes
 * them from any text the action itself formats (errors, summary, debug lines) — also when the text
 * carries them JSON-escaped (`\/`, `\"`, `\uXXXX`, as a server echoing them back would) or split by
 * a line break.
 */
export class SecretRegistry {
  private readonly secrets = new Set<string>();
  /** longest first, so that a secret containing another is replaced whole; rebuilt on change */
  private sorted: string[] | undefined;

  constructor(private readonly mask: (value: string) => void = () => {}) {}

  /** Registers a secret (ignores empty and very short values, which would mangle ordinary text). */
  add(value: string | undefined | null): void {
    if (typeof value !== 'string') return;
    const v = value.trim();
    if (v.length < MIN_SECRET_LENGTH || this.secrets.has(v)) return;
    this.put(v);
    // A URL-encoded form of a token can show up in URLs and error bodies too (not needed for URLs).
    const enc = encodeURIComponent(v);
    if (enc !== v && !/^https?:\/\//.test(v)) this.put(enc);
  }

  /**
   * Registers a credential (API key, PAT, registry password) with its base64 forms: a server or a
   * tool may echo it inside `Basic` auth or a Docker config `auth`, at any byte offset.
   */
  addCredential(value: string | undefined | null): void {
    if (typeof value !== 'string') return;
    const v = value.trim();
    this.add(v);
    if (v.length < MIN_SECRET_LENGTH) return;
    for (const form of base64Forms(v)) this.put(form);
  }

  has(value: string): boolean {
    return this.secrets.has(value);
  }

  values(): string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    if (this.secrets.size === 0) return text;
    this.sorted ??= [...this.secrets].sort((a, b) => b.length - a.length);
    let out = text;
    for (const s of this.sorted) {
      if (out.includes(s)) out = out.split(s).join('***');
    }
    // Escaped or split forms: only text with a backslash or a line break can hold them.
    if (out.includes('\\') || out.includes('\n') || out.includes('\r')) out = this.redactNormalized(out);
    return out;
  }

  private put(v: string): void {
    if (this.secrets.has(v)) return;
    this.secrets.add(v);
    this.sorted = undefined;
    this.mask(v);
  }

  /**
   * Finds secrets in a view of the text with JSON escapes decoded and line breaks dropped, and
   * masks the raw spans they came from.
   */
  private redactNormalized(text: string): string {
    const { view, starts, ends } = normalize(text);
    if (view === text) return text;
    const spans: [number, number][] = [];
    for (const s of this.sorted!) {
      for (let i = view.indexOf(s); i >= 0; i = view.indexOf(s, i + s.length)) spans.push([starts[i], ends[i + s.length - 1]]);
    }
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0]);
    let out = '';
    let at = 0;
    for (const [from, to] of spans) {
      if (to <= at) continue;
      out += text.slice(at, Math.max(at, from)) + (from >= at ? '***' : '');
      at = to;
    }
    return out + text.slice(at);
  }
}

/** Shorter values are never registered: masking them would mangle ordinary text. */
export const MIN_SECRET_LENGTH = 4;

/** Decodes `\/ \" \\ \uXXXX \n \r \t` and drops CR/LF; `starts[i]`/`ends[i]` map view char i to its raw span. */
function normalize(text: string): { view: string; starts: number[]; ends: number[] } {
  let view = '';
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < text.length;) {
    let ch = text[i];
    let len = 1;
    if (ch === '\\' && i + 1 < text.length) {
      const n = text[i + 1];
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
        ch = String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
        len = 6;
      } else if (n === '/' || n === '"' || n === '\\' || n === "'") {
        ch = n;
        len = 2;
      } else if (n === 'n' || n === 'r') {
        ch = '\n';
        len = 2;
      } else if (n === 't') {
        ch = '\t';
        len = 2;
      }
    }
    if (ch !== '\n' && ch !== '\r') {
      view += ch;
      starts.push(i);
      ends.push(i + len);
    }
    i += len;
  }
  return { view, starts, ends };
}

/**
 * The parts of base64(value) that do not depend on what surrounds it, at the three byte offsets it
 * can start at (standard and URL-safe alphabets).
 */
function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const out = new Set<string>();
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const skip = [0, 2, 3][k];
    const complete = Math.floor((k + bytes.length) / 3) * 4;
    const form = b64.slice(skip, complete);
    if (form.length >= 8) {
      out.add(form);
      out.add(form.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return [...out];
}

/** Where a credential can come from: each secret input and the environment variable that stands in for it. */
export const CREDENTIAL_SOURCES: readonly { input: string; env?: string }[] = [
  { input: 'api-key', env: 'TENSORLAKE_API_KEY' },
  { input: 'pat', env: 'TENSORLAKE_PAT' },
  // used only for the PR features' GitHub calls, but masked like the others
  { input: 'github-token' },
];

/** Registers every credential the step was given, before anything is validated or printed. */
export function registerCredentials(
  secrets: SecretRegistry,
  input: (name: string) => string | undefined,
  env: Record<string, string | undefined>,
): void {
  for (const s of CREDENTIAL_SOURCES) {
    secrets.addCredential(input(s.input));
    if (s.env) secrets.addCredential(env[s.env]);
  }
}
