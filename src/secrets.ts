/**
 * Secret values known to one run. Every value is masked for the runner (core.setSecret through the
 * injected `mask`) the moment it is registered, before anything can print it, and `redact` removes
 * them from any text the action itself formats (errors, summary, debug lines).
 */
export class SecretRegistry {
  private readonly secrets = new Set<string>();

  constructor(private readonly mask: (value: string) => void = () => {}) {}

  /** Registers a secret (ignores empty and very short values, which would mangle ordinary text). */
  add(value: string | undefined | null): void {
    if (typeof value !== 'string') return;
    const v = value.trim();
    if (v.length < 4 || this.secrets.has(v)) return;
    this.secrets.add(v);
    this.mask(v);
    // A URL-encoded form of a token can show up in URLs and error bodies too (not needed for URLs).
    const enc = encodeURIComponent(v);
    if (enc !== v && !/^https?:\/\//.test(v) && !this.secrets.has(enc)) {
      this.secrets.add(enc);
      this.mask(enc);
    }
  }

  has(value: string): boolean {
    return this.secrets.has(value);
  }

  values(): string[] {
    return [...this.secrets];
  }

  redact(text: string): string {
    let out = text;
    // Longest first so that a secret containing another is replaced whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(s)) out = out.split(s).join('***');
    }
    return out;
  }
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
    secrets.add(input(s.input));
    if (s.env) secrets.add(env[s.env]);
  }
}
