/** `xsdot/auth` in a Moddable build (manifest_xsdot.json), as on Node. */
export * from 'xsdot/modules/auth/index';
