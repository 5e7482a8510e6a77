import { z } from 'zod';

/** `channels.terminal`: the terminal chat on a Unix socket in NANOCLAW_HOME. */
export const TerminalChannelConfig = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve the terminal chat (`nanoclaw chat`) on a socket only the owner\'s user can open.'),
}).prefault({});
