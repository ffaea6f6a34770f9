/*
 * xsdot self-test only: the SDK's native HMAC (modCrypt.c, xs_crypt_HMAC*), which its `crypt` module
 * does not export. Bound here to compare its cost with HMAC built on the exported `Digest`.
 * Key and data must be ArrayBuffers.
 */
export class NativeHMAC @ "xs_crypt_HMAC_destructor" {
	constructor(type, key) @ "xs_crypt_HMAC";
	write(data) @ "xs_crypt_HMAC_write";
	close() @ "xs_crypt_HMAC_close";
}
