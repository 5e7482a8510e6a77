import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const discord: ChatChannelModule<'discord'> = {
  createChannel() { throw new Error('the discord channel is not built yet'); },
  async check() { return { ok: false, detail: 'the discord channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
