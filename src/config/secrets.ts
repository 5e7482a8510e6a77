import { closeSync, constants, existsSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';

/** A secrets file that cannot be used as it is; the message says how to fix it. */
export class SecretsError extends Error {
  override name = 'SecretsError';
}

/**
 * Chat channels' credentials (bot tokens, app tokens), kept apart from
 * config.json so the config can be shared and printed: `NANOCLAW_HOME/secrets.json`,
 * mode 0600, written by `nanoclaw setup <channel>`. An environment variable of
 * the same name wins over the file. Only the gateway reads them; no container
 * ever sees one (containers get no environment from the host but their own
 * per-container token).
 *
 *   const token = new Secrets(layout.secrets, process.env).get('TELEGRAM_BOT_TOKEN');
 */
export class Secrets {
  private cache?: Record<string, string>;

  constructor(private readonly file: string, private readonly env: NodeJS.ProcessEnv = {}) {}

  /** The secret, from the environment or the file; undefined when neither has it. */
  get(name: string): string | undefined {
    const fromEnv = this.env[name];
    if (fromEnv) return fromEnv;
    return this.read()[name] || undefined;
  }

  /** Sets secrets (an empty value removes one), replacing the file atomically with mode 0600. */
  set(values: Record<string, string>): void {
    const next = { ...this.read() };
    for (const [k, v] of Object.entries(values)) {
      if (v) next[k] = v;
      else delete next[k];
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(next, null, 2) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.cache = next;
  }

  private read(): Record<string, string> {
    if (this.cache) return this.cache;
    if (!existsSync(this.file)) return (this.cache = {});
    const fd = openSync(this.file, constants.O_RDONLY | constants.O_NOFOLLOW);
    let text: string;
    try {
      const st = fstatSync(fd);
      if (st.mode & 0o077) throw new SecretsError(`${this.file} can be read by other users (mode ${(st.mode & 0o777).toString(8)}); run \`chmod 600 ${this.file}\`.`);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch (err) {
      throw new SecretsError(`${this.file} is not valid JSON (${(err as Error).message}); fix it or run \`nanoclaw setup <channel>\` again.`, { cause: err });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new SecretsError(`${this.file} must hold a JSON object of strings, like {"TELEGRAM_BOT_TOKEN": "..."}.`);
    }
    return (this.cache = parsed as Record<string, string>);
  }
}
