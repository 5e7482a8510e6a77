import { parseDocument } from 'yaml';

/**
 * The Agent Skills format (agentskills.io), as NanoClaw accepts it: SKILL.md
 * is `---` YAML front matter `---` then the Markdown instructions. The front
 * matter may carry only the fields of the format; anything else is refused,
 * so a skill can never carry settings (egress, mounts, limits: those stay in
 * config.json, where only the owner writes).
 *
 *   const skill = parseSkillMd(text, 'web-research');  // throws SkillFormatError
 *   skill.description;
 */

/** What SKILL.md says, after checking. */
export interface SkillManifest {
  name: string;
  description: string;
  license?: string;
  compatibility?: string;
  metadata?: Record<string, string>;
  /**
   * Accepted because the format has it, but it grants nothing here: the
   * tools an agent has come from its engine and the sandbox, never from a skill.
   */
  allowedTools?: string;
  /** The Markdown after the front matter (the instructions). */
  body: string;
}

/** A SKILL.md that is not in the format; the message names the file, the field and the fix. */
export class SkillFormatError extends Error {
  override name = 'SkillFormatError';
}

export const SKILL_MD = 'SKILL.md';
export const NAME_MAX = 64;
export const DESCRIPTION_MAX = 1024;
export const COMPATIBILITY_MAX = 500;
/** SKILL.md as a whole: the body is loaded into the model's context when the skill fires. */
export const SKILL_MD_MAX = 64 * 1024;
const FRONT_MATTER_MAX = 8 * 1024;
const METADATA_MAX_KEYS = 32;
const METADATA_VALUE_MAX = 1024;

const FIELDS = new Set(['name', 'description', 'license', 'compatibility', 'metadata', 'allowed-tools']);
const NAME_RE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const XML_TAG_RE = /<\/?[A-Za-z][^<>]*>/;

/**
 * Why `name` is not a valid skill name, or undefined when it is: 1-64 of
 * a-z, 0-9 and single inner hyphens, without the reserved words "anthropic"
 * and "claude" (Anthropic's rule: they would pass for its own skills).
 */
export function skillNameProblem(name: string): string | undefined {
  if (name.length < 1 || name.length > NAME_MAX) return `must be 1-${NAME_MAX} characters (it is ${name.length})`;
  if (!NAME_RE.test(name)) return 'may hold only lowercase letters a-z, digits and single hyphens between them (no leading, trailing or double hyphen)';
  if (/anthropic|claude/.test(name)) return 'must not contain the reserved words "anthropic" or "claude"';
  return undefined;
}

/**
 * Parses and checks SKILL.md. `folder` is the name of the folder it came
 * from, which `name` must equal; `shown` is how the file is named in errors.
 */
export function parseSkillMd(text: string, folder: string, shown = `${folder}/${SKILL_MD}`): SkillManifest {
  const fail = (what: string): never => { throw new SkillFormatError(`${shown}: ${what}`); };
  if (Buffer.byteLength(text) > SKILL_MD_MAX) fail(`is over ${SKILL_MD_MAX / 1024} KiB; move long material into other files of the skill (references/...) and point to them.`);
  const m = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/.exec(text);
  if (!m) fail('must start with YAML front matter between two "---" lines, e.g. "---\\nname: my-skill\\ndescription: What it does and when to use it.\\n---", then the instructions.');
  const [, yamlText, body] = m!;
  if (yamlText.length > FRONT_MATTER_MAX) fail(`the front matter is over ${FRONT_MATTER_MAX / 1024} KiB; keep it to name, description and the few optional fields.`);

  // Core schema only (no custom or 1.1 tags), no aliases (no "billion laughs"), unique keys.
  const doc = parseDocument(yamlText, { schema: 'core', customTags: [], uniqueKeys: true, merge: false, prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) fail(`the front matter is not valid YAML: ${problem.message.split('\n')[0]}`);
  let fm: unknown;
  try {
    fm = doc.toJS({ maxAliasCount: 0 });
  } catch (err) {
    fail(`the front matter uses YAML anchors or aliases (${(err as Error).message}); write each value out.`);
  }
  if (!fm || typeof fm !== 'object' || Array.isArray(fm)) fail('the front matter must be a mapping of fields (name: ..., description: ...).');
  const fields = fm as Record<string, unknown>;

  for (const key of Object.keys(fields)) {
    if (!FIELDS.has(key)) fail(`field "${key}" is not allowed; a skill may have only ${[...FIELDS].join(', ')}. Settings such as network access or mounts are the owner's, in config.json and /allow, never a skill's.`);
  }
  const text_ = (key: string, max: number, required: boolean): string | undefined => {
    const v = fields[key];
    if (v === undefined || v === null) return required ? fail(`field "${key}" is missing; add it to the front matter.`) : undefined;
    if (typeof v !== 'string') fail(`field "${key}" must be a string (quote it if YAML reads it as something else).`);
    const s = (v as string).trim();
    if (required && !s) fail(`field "${key}" is empty.`);
    if (s.length > max) fail(`field "${key}" is ${s.length} characters, over the limit of ${max}; shorten it.`);
    return s;
  };

  const name = text_('name', NAME_MAX, true)!;
  const nameProblem = skillNameProblem(name);
  if (nameProblem) fail(`field "name" ("${name}") ${nameProblem}.`);
  if (name !== folder) fail(`field "name" is "${name}" but the folder is "${folder}"; they must be equal (rename one).`);
  const description = text_('description', DESCRIPTION_MAX, true)!;
  if (XML_TAG_RE.test(description)) fail('field "description" must not contain XML tags (<...>); describe in plain words what the skill does and when to use it.');
  const compatibility = text_('compatibility', COMPATIBILITY_MAX, false);
  const license = text_('license', 200, false);
  const allowedTools = text_('allowed-tools', 1024, false);

  let metadata: Record<string, string> | undefined;
  if (fields.metadata !== undefined && fields.metadata !== null) {
    const md = fields.metadata;
    if (typeof md !== 'object' || Array.isArray(md)) fail('field "metadata" must be a mapping of strings (key: value).');
    const entries = Object.entries(md as Record<string, unknown>);
    if (entries.length > METADATA_MAX_KEYS) fail(`field "metadata" has ${entries.length} keys, over the limit of ${METADATA_MAX_KEYS}.`);
    metadata = {};
    for (const [k, v] of entries) {
      if (typeof v !== 'string') fail(`field "metadata.${k}" must be a string (quote it).`);
      if ((v as string).length > METADATA_VALUE_MAX || k.length > 64) fail(`field "metadata.${k.slice(0, 64)}" is too long (keys up to 64, values up to ${METADATA_VALUE_MAX} characters).`);
      metadata[k] = v as string;
    }
  }

  if (!body.trim()) fail('has no instructions after the front matter; write what the agent should do when the skill fires.');
  return {
    name, description, body,
    ...(license !== undefined && { license }),
    ...(compatibility !== undefined && { compatibility }),
    ...(metadata !== undefined && { metadata }),
    ...(allowedTools !== undefined && { allowedTools }),
  };
}
