import type { UserFacingSocketConfig } from 'baileys';

/** The pino-shaped logger Baileys takes (its own type is not exported). */
export type ILogger = NonNullable<UserFacingSocketConfig['logger']>;

interface Log { debug(msg: string): void; warn(msg: string): void }

/**
 * Baileys wants a pino-shaped logger and is chatty (every frame at trace,
 * every reconnect at info). Its info and below go to the gateway's debug
 * level; its warnings and errors to warn, since the channel itself reports
 * what matters (a dropped connection, a failed send) in its own words.
 *
 *   makeWASocket({ logger: baileysLogger(log) });
 */
export function baileysLogger(log: Log, bindings: Record<string, unknown> = {}): ILogger {
  const line = (obj: unknown, msg?: string) => {
    const o = (obj && typeof obj === 'object' ? obj : {}) as { err?: { message?: string }; trace?: string };
    const text = typeof obj === 'string' ? obj : msg ?? '';
    const why = o.err?.message ?? (typeof o.trace === 'string' ? o.trace.split('\n')[0] : '');
    const scope = Object.keys(bindings).length ? ` ${JSON.stringify(bindings)}` : '';
    return `whatsapp (baileys${scope}): ${text}${why ? ` (${why})` : ''}`;
  };
  return {
    level: 'debug',
    child: (obj) => baileysLogger(log, { ...bindings, ...obj }),
    trace: () => {},
    debug: (obj, msg) => log.debug(line(obj, msg)),
    info: (obj, msg) => log.debug(line(obj, msg)),
    warn: (obj, msg) => log.warn(line(obj, msg)),
    error: (obj, msg) => log.warn(line(obj, msg)),
  };
}
