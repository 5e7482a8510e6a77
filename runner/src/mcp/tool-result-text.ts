/** One part of an MCP tool result's `content`, as much of it as this file reads. */
interface ContentPart {
  type: string;
  text?: string;
  mimeType?: string;
  data?: string;
  uri?: string;
  name?: string;
  resource?: { uri?: string; mimeType?: string; text?: string; blob?: string };
}

/**
 * An MCP tool result as text for a model that reads text only: text parts as
 * they are, anything else as a short bracketed note of what it was (an
 * image's type and size, a link's address), so the model knows it was there
 * without the payload. A result with no content but structured content
 * shows that as JSON.
 *
 *   toolResultText({ content: [{ type: 'text', text: 'cba' }, { type: 'image', mimeType: 'image/png', data: 'iVBO' }] })
 *   // 'cba\n[image image/png, 3 bytes]'
 */
export function toolResultText(result: { content?: unknown; structuredContent?: unknown; toolResult?: unknown }): string {
  const parts = Array.isArray(result.content) ? (result.content as ContentPart[]) : [];
  if (parts.length === 0) {
    const structured = result.structuredContent ?? result.toolResult;
    return structured === undefined ? '' : JSON.stringify(structured);
  }
  return parts.map(partText).join('\n');
}

function partText(p: ContentPart): string {
  switch (p.type) {
    case 'text': return p.text ?? '';
    case 'image':
    case 'audio': return `[${p.type} ${p.mimeType ?? ''}, ${base64Bytes(p.data)} bytes]`.replace(' ,', ',');
    case 'resource_link': return `[link ${p.uri ?? ''}${p.name ? ` (${p.name})` : ''}]`;
    case 'resource':
      if (typeof p.resource?.text === 'string') return p.resource.text;
      return `[resource ${p.resource?.uri ?? ''}${p.resource?.mimeType ? `, ${p.resource.mimeType}` : ''}, ${base64Bytes(p.resource?.blob)} bytes]`;
    default: return `[${String(p.type).slice(0, 40)}]`;
  }
}

/** The decoded size of base64 text, without decoding it. */
function base64Bytes(data: string | undefined): number {
  if (!data) return 0;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}
