import type { ChatChannelModule } from '../registry.ts';

/** Placeholder until the channel is built: enabling it fails with a clear error. */
export const slack: ChatChannelModule<'slack'> = {
  createChannel() { throw new Error('the slack channel is not built yet'); },
  async check() { return { ok: false, detail: 'the slack channel is not built yet' }; },
  setup: { intro: [], secrets: [] },
};
