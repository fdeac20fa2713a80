/**
 * Typed reading of fast-xml-parser's output (which is `any`): element lookup that
 * treats one child and many alike, element text with entities decoded, attributes.
 * The parser is configured here once: entity processing off, values kept as the
 * strings they were written as (never numbers: "1500.10" must not become a float),
 * namespace prefixes dropped (camt files use both default and prefixed namespaces).
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { StatementError } from './model.js';
import { decodeXmlEntities, refuseDoctype } from './xml-safety.js';

export type XmlNode = unknown;

const ATTRIBUTE = '@_';

/** Parses a well-formed, DOCTYPE-free document; a StatementError names the line of the first fault. */
export function parseXmlDocument(text: string, what: string): XmlNode {
  refuseDoctype(text, what);
  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (verdict !== true) {
    // An unclosed element is reported as a JSON list of the open tags at "line 1": name them instead.
    const unclosed = /^Invalid '\[(.*)\]' found\.$/su.exec(verdict.err.msg);
    if (unclosed) {
      const open = [...(unclosed[1] ?? '').matchAll(/"([^"]+)"/gu)].map((m) => `<${m[1]}>`);
      throw new StatementError('body', `the ${what} is not well-formed XML: it ends with ${open.join(', ')} still open`);
    }
    throw new StatementError('body', `the ${what} is not well-formed XML: ${verdict.err.msg}`, verdict.err.line);
  }
  const parser = new XMLParser({
    processEntities: false,
    htmlEntities: false,
    ignoreAttributes: false,
    attributeNamePrefix: ATTRIBUTE,
    parseTagValue: false,
    parseAttributeValue: false,
    removeNSPrefix: true,
    trimValues: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
  });
  return parser.parse(text) as XmlNode;
}

function isObject(node: XmlNode): node is Readonly<Record<string, unknown>> {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

/** Every child element of `node` named `name` (none, one or many). */
export function children(node: XmlNode, name: string): XmlNode[] {
  if (!isObject(node)) {
    return [];
  }
  const value = node[name];
  return value === undefined ? [] : Array.isArray(value) ? (value as XmlNode[]) : [value];
}

/** The first element along `path` ("BookgDt/Dt"), or undefined. */
export function at(node: XmlNode, path: string): XmlNode {
  let current: XmlNode = node;
  for (const name of path.split('/')) {
    current = children(current, name)[0];
    if (current === undefined) {
      return undefined;
    }
  }
  return current;
}

/** Every element along `path`, fanning out where an element repeats. */
export function all(node: XmlNode, path: string): XmlNode[] {
  return path.split('/').reduce<XmlNode[]>((nodes, name) => nodes.flatMap((n) => children(n, name)), [node]);
}

/** An element's text, entities decoded; undefined when absent or when it only has child elements. */
export function textOf(node: XmlNode): string | undefined {
  if (typeof node === 'string') {
    return decodeXmlEntities(node);
  }
  if (isObject(node)) {
    const text = node['#text'];
    if (typeof text === 'string' || typeof text === 'number') {
      return decodeXmlEntities(String(text));
    }
    return Object.keys(node).every((key) => key.startsWith(ATTRIBUTE)) ? '' : undefined;
  }
  return undefined;
}

/** The text at `path` below `node`, trimmed; undefined when absent or empty. */
export function textAt(node: XmlNode, path: string): string | undefined {
  const text = textOf(at(node, path))?.trim();
  return text === '' ? undefined : text;
}

/** An attribute's value, entities decoded. */
export function attributeOf(node: XmlNode, name: string): string | undefined {
  if (!isObject(node)) {
    return undefined;
  }
  const value = node[`${ATTRIBUTE}${name}`];
  return typeof value === 'string' ? decodeXmlEntities(value) : undefined;
}
