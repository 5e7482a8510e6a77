/**
 * The gateway's log: one line per event on stderr, with a level. Quiet by
 * default in tests (`NANOCLAW_LOG=silent`).
 */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

export function createLogger(level: string = process.env.NANOCLAW_LOG ?? 'info'): Logger {
  const min = Math.max(0, LEVELS.indexOf(level as (typeof LEVELS)[number]));
  const at = (i: number, name: string) => (msg: string) => {
    if (i >= min) process.stderr.write(`${new Date().toISOString()} ${name.padEnd(5)} ${msg}\n`);
  };
  return { debug: at(0, 'debug'), info: at(1, 'info'), warn: at(2, 'warn'), error: at(3, 'error') };
}
