/** `xsdot` in a Moddable build (manifest_xsdot.json): the HTTP framework, as `xsdot` is on Node. */
export * from 'xsdot/modules/http/index';
