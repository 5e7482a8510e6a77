import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const telegram: ChatChannelModule<'telegram'> = {
  createChannel() { throw new Error('the telegram channel is not built yet'); },
  async check() { return { ok: false, detail: 'the telegram channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
