/**
 * The login app's static files (app/static/): served under /static/ from the StaticSource its host gives
 * (a directory on Node, the firmware's resources on Moddable: scripts/assets.ts builds them in), to
 * anyone (the stylesheet is shown on the sign-in page too), with `Cache-Control: no-cache`: browsers
 * keep a copy and revalidate it with its ETag (304), so a firmware update's new stylesheet shows at once.
 */
import type { App } from '../modules/http/app';
import { staticFiles, type StaticSource } from '../modules/http/static';

/** Where the static files are served. */
export const STATIC_PREFIX = '/static/';
/** The stylesheet every page links. */
export const STYLESHEET = `${STATIC_PREFIX}style.css`;

/** Serves `source` under STATIC_PREFIX. */
export function useAssets(app: App, source: StaticSource): void {
  app.get(`${STATIC_PREFIX}<path:name>`, staticFiles(source, { cacheControl: 'no-cache' }));
}
