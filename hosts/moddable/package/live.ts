/** `xsdot/live` in a Moddable build (manifest_xsdot.json), as on Node. */
export * from 'xsdot/modules/live/index';
