/**
 * A tool call's streamed arguments, as the object the tool receives. Models
 * sometimes emit JSON that does not parse (cut by max_tokens, a stray quote);
 * rather than guessing or silently passing `{}`, the call keeps the raw text
 * under `__invalid_json`, so the tool's input check fails with an error the
 * model reads and corrects on its next step.
 *
 *   parseToolInput('{"path":"a"}')  // { path: 'a' }
 *   parseToolInput('{"path":')      // { __invalid_json: '{"path":' }
 */

/** How much of unparseable arguments is kept: enough for the model to see its mistake. */
const MAX_RAW_CHARS = 2000;

export function parseToolInput(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(raw);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // kept below
  }
  return { __invalid_json: raw.length > MAX_RAW_CHARS ? `${raw.slice(0, MAX_RAW_CHARS)}...` : raw };
}
