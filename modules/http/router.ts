/**
 * URL patterns in microdot's syntax: `/users/<int:id>`, `/files/<path:rest>`, `/hello/<name>`.
 * Matching splits the path once and compares segments: no regular expression per route.
 */
import { HttpError } from './errors';
import { percentDecode } from './urlencoded';

type Segment =
  | { kind: 'static'; text: string }
  | { kind: 'string' | 'int' | 'path'; name: string };

export type Params = Record<string, string | number>;

export class UrlPattern {
  readonly pattern: string;
  readonly #segments: Segment[];

  constructor(pattern: string) {
    if (!pattern.startsWith('/')) throw new TypeError(`xsdot: route ${JSON.stringify(pattern)} must start with "/"`);
    this.pattern = pattern;
    this.#segments = pattern.slice(1).split('/').map((part, index, parts): Segment => {
      if (!part.startsWith('<') || !part.endsWith('>')) {
        if (part.indexOf('<') >= 0 || part.indexOf('>') >= 0) throw new TypeError(`xsdot: route ${pattern}: a parameter must fill a whole segment`);
        return { kind: 'static', text: part };
      }
      const spec = part.slice(1, -1);
      const colon = spec.indexOf(':');
      const kind = colon < 0 ? 'string' : spec.slice(0, colon);
      const name = colon < 0 ? spec : spec.slice(colon + 1);
      if (kind !== 'string' && kind !== 'int' && kind !== 'path') throw new TypeError(`xsdot: route ${pattern}: unknown parameter type ${JSON.stringify(kind)}`);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`xsdot: route ${pattern}: invalid parameter name ${JSON.stringify(name)}`);
      if (kind === 'path' && index !== parts.length - 1) throw new TypeError(`xsdot: route ${pattern}: <path:…> must be the last segment`);
      return { kind, name };
    });
  }

  /** Parameters when `segments` (the split, decoded path) match this pattern, else undefined. */
  match(segments: readonly string[]): Params | undefined {
    const own = this.#segments;
    const params: Params = {};
    for (let i = 0; i < own.length; i++) {
      const segment = own[i];
      if (segment.kind === 'path') {
        const rest = segments.slice(i).join('/');
        if (i >= segments.length || rest.length === 0) return undefined;
        params[segment.name] = rest;
        return params;
      }
      if (i >= segments.length) return undefined;
      const value = segments[i];
      if (segment.kind === 'static') {
        if (value !== segment.text) return undefined;
      } else if (segment.kind === 'int') {
        if (!/^-?[0-9]{1,15}$/.test(value)) return undefined;
        params[segment.name] = Number(value);
      } else {
        if (value.length === 0) return undefined;
        params[segment.name] = value;
      }
    }
    return own.length === segments.length ? params : undefined;
  }

  /** The pattern with a mount prefix in front (`/api` + `/items` → `/api/items`). */
  withPrefix(prefix: string): UrlPattern {
    // `[/]`, not an escaped slash: XS copies `\/` wrongly when a RegExp is cloned.
    return new UrlPattern(prefix.replace(/[/]+$/, '') + this.pattern);
  }
}

/** Splits a raw path into percent-decoded segments; 400 for malformed escapes. */
export function splitPath(path: string): string[] {
  const raw = path.slice(1).split('/');
  for (let i = 0; i < raw.length; i++) {
    const decoded = percentDecode(raw[i]);
    if (decoded === undefined) throw new HttpError(400, 'Malformed percent-encoding in path');
    raw[i] = decoded;
  }
  return raw;
}
