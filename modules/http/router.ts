/**
 * URL patterns in microdot's syntax: `/users/<int:id>`, `/files/<path:rest>`, `/hello/<name>`.
 * Matching splits the path once and compares segments: no regular expression per route.
 */
import { HttpError } from './errors';
import { percentDecode } from './urlencoded';
import { indexOf } from './text';

type Segment =
  | { kind: 'static'; text: string }
  | { kind: 'string' | 'int' | 'path'; name: string };

export type Params = Record<string, string | number>;

export class UrlPattern {
  readonly pattern: string;
  /** True when every segment is static: the pattern matches exactly the path equal to it. */
  readonly isStatic: boolean;
  readonly #segments: Segment[];

  constructor(pattern: string) {
    if (!pattern.startsWith('/')) throw new TypeError(`xsdot: route ${JSON.stringify(pattern)} must start with "/"`);
    this.pattern = pattern;
    this.#segments = pattern.slice(1).split('/').map((part, index, parts): Segment => {
      if (!part.startsWith('<') || !part.endsWith('>')) {
        if (part.indexOf('<') >= 0 || part.indexOf('>') >= 0) throw new TypeError(`xsdot: route ${pattern}: a parameter must fill a whole segment`);
        return Object.freeze({ kind: 'static', text: part });
      }
      const spec = part.slice(1, -1);
      const colon = spec.indexOf(':');
      const kind = colon < 0 ? 'string' : spec.slice(0, colon);
      const name = colon < 0 ? spec : spec.slice(colon + 1);
      if (kind !== 'string' && kind !== 'int' && kind !== 'path') throw new TypeError(`xsdot: route ${pattern}: unknown parameter type ${JSON.stringify(kind)}`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`xsdot: route ${pattern}: invalid parameter name ${JSON.stringify(name)}`);
      if (kind === 'path' && index !== parts.length - 1) throw new TypeError(`xsdot: route ${pattern}: <path:…> must be the last segment`);
      return Object.freeze({ kind, name });
    });
    this.isStatic = this.#segments.every((segment) => segment.kind === 'static');
    // Never changed once made: frozen, a pattern made by a preloaded module stays in flash as it is
    // (the XS linker need not make it aliasable). A subclass freezes its own instances if it wants.
    Object.freeze(this.#segments);
    if (new.target === UrlPattern) Object.freeze(this);
  }

  /** Parameters when `segments` (the split, decoded path) match this pattern, else undefined. */
  match(segments: readonly string[]): Params | undefined {
    const own = this.#segments;
    // Made at the first parameter: a pattern that fails on a static segment allocates nothing.
    let params: Params | undefined;
    for (let i = 0; i < own.length; i++) {
      const segment = own[i];
      if (segment.kind === 'path') {
        const rest = segments.slice(i).join('/');
        if (i >= segments.length || rest.length === 0) return undefined;
        (params ??= {})[segment.name] = rest;
        return params;
      }
      if (i >= segments.length) return undefined;
      const value = segments[i];
      if (segment.kind === 'static') {
        if (value !== segment.text) return undefined;
      } else if (segment.kind === 'int') {
        if (!/^-?[0-9]{1,15}$/.test(value)) return undefined;
        (params ??= {})[segment.name] = Number(value);
      } else {
        if (value.length === 0) return undefined;
        (params ??= {})[segment.name] = value;
      }
    }
    return own.length === segments.length ? params ?? {} : undefined;
  }

  /** The pattern with a mount prefix in front (`/api` + `/items` → `/api/items`). */
  withPrefix(prefix: string): UrlPattern {
    // `[/]`, not an escaped slash: XS copies `\/` wrongly when a RegExp is cloned.
    return new UrlPattern(prefix.replace(/[/]+$/, '') + this.pattern);
  }
}

/** The segments of a canonical path (see `canonicalPath`): `/a/b` → `['a', 'b']`. */
export function splitPath(path: string): string[] {
  return path.slice(1).split('/');
}

/**
 * The one path hooks and routes see (RFC 3986 §6.2.2): percent-decoded as UTF-8 — `%2F` is a `/`, as
 * in Flask/werkzeug and Starlette, so a path has one segmentation — then dot segments removed (§5.2.4:
 * `/a/../b` and `/a/%2e%2e/b` are `/b`, as a browser would have sent them). HttpError 400 for a
 * malformed escape or a decoded control character (`%00`…`%1F`, `%7F`). A path without `%` or `/.`
 * is returned as it is, without allocating.
 */
export function canonicalPath(raw: string): string {
  let path = raw;
  if (indexOf.call(raw, '%') >= 0) {
    for (let at = raw.indexOf('%'); at >= 0; at = raw.indexOf('%', at + 1)) {
      const hi = raw.charCodeAt(at + 1);
      // %0X, %1X and %7F: the parser refuses these bytes raw; decoded they are no better.
      if (hi === 48 || hi === 49 || (hi === 55 && (raw.charCodeAt(at + 2) | 32) === 102)) throw new HttpError(400, 'Control character in path');
    }
    const decoded = percentDecode(raw);
    if (decoded === undefined) throw new HttpError(400, 'Malformed percent-encoding in path');
    path = decoded;
  }
  return indexOf.call(path, '/.') >= 0 ? removeDotSegments(path) : path;
}

/** RFC 3986 §5.2.4 for an absolute path: `.` segments dropped, `..` removes the one before (not past `/`). */
function removeDotSegments(path: string): string {
  const input = path.split('/');
  const output: string[] = [];
  for (let i = 1; i < input.length; i++) {
    const segment = input[i];
    const last = i === input.length - 1;
    if (segment === '..') output.pop();
    else if (segment !== '.') output.push(segment);
    // A path ending in a dot segment names a directory: it keeps its trailing `/`.
    if (last && (segment === '.' || segment === '..')) output.push('');
  }
  return '/' + output.join('/');
}
