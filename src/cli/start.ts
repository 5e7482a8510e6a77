import { startApp } from '../app.ts';
import { resolveHome } from '../config/home.ts';

/** `nanoclaw start`: the gateway, until SIGINT or SIGTERM. */
export async function runStart(): Promise<void> {
  const home = resolveHome();
  const app = await startApp({ home });
  process.stderr.write(`NanoClaw is running. API: ${app.http.url} (token: \`nanoclaw status\`); chat: \`nanoclaw chat\`. Ctrl-C stops it.\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping containers...\n`);
    await app.stop();
    process.exit(0);
  };
  // A chat library that rejects a promise nobody awaits (a payload it cannot
  // parse, deep inside its own event loop) must not end the gateway and every
  // conversation with it: logged with its stack, and the gateway goes on.
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`nanoclaw: an error nothing handled (logged, the gateway goes on): ${(reason as Error)?.stack ?? String(reason)}\n`);
  });
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}
