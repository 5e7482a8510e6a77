import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const gmail: ChatChannelModule<'gmail'> = {
  createChannel() { throw new Error('the gmail channel is not built yet'); },
  async check() { return { ok: false, detail: 'the gmail channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
