import type { Logger } from '../../core/logger.ts';

/**
 * The Slack SDK's logger interface, fed into the gateway's log: the SDK's own chatter (requests,
 * pings) stays at debug; its warnings and errors (a pong that never came, a failed reconnect)
 * are warnings here, since the channel itself reports what they mean for the connection.
 * Without it the SDK prints to the console on its own.
 *
 *   new WebClient(token, { logger: sdkLogger(log, 'slack web') });
 */
export function sdkLogger(log: Logger, name: string) {
  const line = (msg: unknown[]) => `${name}: ${msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ')}`;
  return {
    debug: (...msg: unknown[]) => log.debug(line(msg)),
    info: (...msg: unknown[]) => log.debug(line(msg)),
    warn: (...msg: unknown[]) => log.warn(line(msg)),
    error: (...msg: unknown[]) => log.warn(line(msg)),
    setLevel: () => {},
    // 'info' keeps the SDK from building its debug-only strings (whole payloads) for nothing.
    getLevel: () => 'info' as never,
    setName: () => {},
  };
}
