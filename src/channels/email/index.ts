import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const email: ChatChannelModule<'email'> = {
  createChannel() { throw new Error('the email channel is not built yet'); },
  async check() { return { ok: false, detail: 'the email channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
