/*
 * xsdot-fit: runs a JavaScript bundle on an XS machine of fixed size, the way a Moddable device does,
 * and reports how many slots and chunk bytes it used. Built by hosts/xs/fit/build.ts (32-bit).
 *
 *   xsdot-fit run [--chunk BYTES] [--heap SLOTS] [--stack SLOTS] [--preload] [--arg TEXT] BUNDLE.js
 *   xsdot-fit compile FILE.js...
 *
 * `run` mirrors a device's two kinds of memory:
 *   - "flash": a roomy machine parses and evaluates BUNDLE.js. Its built-ins and the bytecode of the
 *     bundle stay there, shared read-only, as the ROM of a Moddable build holds them. The bundle must
 *     define globalThis.__xsdotFitLoad, a function that evaluates its modules and returns their API.
 *   - "device": a clone of that machine (fxCloneMachine, as Moddable's runtime clones its prepared
 *     machine) created with the device's creation block and no growth: by default the Moddable Two
 *     (ESP32) one, chunk 78,848 bytes, heap 4,928 slots, stack 512 slots.
 *   Without --preload, the device calls __xsdotFitLoad() itself: module bodies (functions, classes,
 *   module state) are built in device RAM, code stays in flash — a Moddable app whose modules are
 *   not preloaded. With --preload the flash machine calls it first, as the XS linker preloads modules:
 *   the objects live in flash, mutable ones are aliased into RAM when written, and instances that
 *   the linker cannot alias (Map, Set, WeakMap, WeakSet, ArrayBuffer, Date) become read-only.
 *   The device then calls api.start(TEXT) and api.step() until step() returns something other than
 *   "continue", draining the promise jobs before each step.
 * What keeps the flash honest (fxArchiveScript, fxFreezeFlash): its bytecode is run in place, as XS
 * runs an archive from ROM (function bodies and string literals are not copied into the device's
 * chunks), and once shared its strings, keys and bigints get the "X" kinds of ROM data, so the
 * device's compacting collector never touches flash memory. Not modelled: the linker's freezing of
 * built-ins and functions (fewer aliases), its dead-stripping, and the Moddable runtime's own objects
 * (timers, sockets, Preference), which a device also keeps in this heap.
 *
 * Output: lines starting with "@fit " carry JSON for the driver (hosts/xs/fit/run.ts); other lines are
 * the bundle's print() output. Exit codes: 0 done, 1 usage or I/O, 2 JavaScript error (exception,
 * unhandled rejection, step() said "stuck"), 3 memory full (the creation budget was exceeded),
 * 4 stack overflow, 5 not enough keys, 6 other abort, 7 not preloadable (with --preload, RegExp or
 * generator instances are left in flash: the XS linker refuses those, "### error …: regexp").
 *
 * The bundle also gets __fitStackLimit(slots), which holds the device machine to the top `slots` of its
 * stack until called with 0: a scenario can check that one phase fits a tighter stack budget.
 *
 * `compile` parses each file as a module, as xsc does for a release build (no debug information),
 * and prints the size of its bytecode and of its symbol table.
 */
#include "xsAll.h"
#include "xsScript.h"
#include "xs.h"

#include <errno.h>
#include <sys/random.h>

#define EXIT_JS_ERROR 2
#define EXIT_MEMORY_FULL 3
#define EXIT_STACK_OVERFLOW 4
#define EXIT_NO_MORE_KEYS 5
#define EXIT_OTHER_ABORT 6
#define EXIT_NOT_PRELOADABLE 7

extern void modInstallTextDecoder(xsMachine *the);
extern void modInstallTextEncoder(xsMachine *the);
extern xsIntegerValue _xsmcGetBuffer(xsMachine *the, xsSlot *slot, void **data, xsUnsignedValue *count, xsBooleanValue writable);

static txMachine* gFlash = NULL;
static txMachine* gDevice = NULL;
static xsCreation gDeviceCreation;
static int gPreload = 0;
/* The stack slots __fitStackLimit() allows now (0: the whole creation stack). */
static xsIntegerValue gStackLimit = 0;

/* ---- output ------------------------------------------------------------------------------------ */

static void fxPrintMemory(const char* phase, txMachine* the)
{
	printf("@fit {\"phase\":\"%s\",\"slots\":%ld,\"peakSlots\":%ld,\"heapSlots\":%ld,\"chunks\":%ld,\"peakChunks\":%ld,\"chunkBytes\":%ld,\"slotSize\":%d}\n",
		phase,
		(long)the->currentHeapCount, (long)the->peakHeapCount, (long)the->maximumHeapCount,
		(long)the->currentChunksSize, (long)the->peakChunksSize, (long)the->maximumChunksSize,
		(int)sizeof(txSlot));
	fflush(stdout);
}

static void fxPrintJSONString(FILE* file, const char* text)
{
	fputc('"', file);
	for (const unsigned char* p = (const unsigned char*)text; *p; p++) {
		if (*p == '"' || *p == '\\') fprintf(file, "\\%c", *p);
		else if (*p < 0x20) fprintf(file, "\\u%04x", *p);
		else fputc(*p, file);
	}
	fputc('"', file);
}

/* ---- platform hooks ---------------------------------------------------------------------------- */

void fxQueuePromiseJobs(txMachine* the)
{
	the->promiseJobs = 1;
}

/* The JavaScript frames on the stack, innermost first, with the stack slots each one holds: what a
 * stack overflow reports, so the deep call chain can be found. Reads only; allocates nothing. */
static void fxPrintFrames(txMachine* the)
{
	txSlot* frame = the->frame;
	txSlot* below = the->stack;
	int depth = 0;
	fprintf(stderr, "xsdot-fit: JavaScript frames (innermost first; stack slots each):\n");
	while (frame && frame->next) {
		txSlot* function = frame + 3;
		const char* name = "?";
		if (function->kind == XS_REFERENCE_KIND && mxIsFunction(function->value.reference)) {
			txSlot* property = mxBehaviorGetProperty(the, function->value.reference, mxID(_name), 0, XS_OWN);
			if (property && (property->kind == XS_STRING_KIND || property->kind == XS_STRING_X_KIND) && property->value.string[0])
				name = property->value.string;
		}
		if (depth < 60)
			fprintf(stderr, "  %3d %-40s %ld\n", depth, name, (long)(frame - below));
		below = frame;
		frame = frame->next;
		depth++;
	}
	fprintf(stderr, "xsdot-fit: %d frames, %ld of %ld stack slots in use\n", depth, (long)(the->stackTop - the->stack), (long)(the->stackTop - the->stackBottom));
}

void fxAbort(txMachine* the, int status)
{
	const char* why;
	int code;
	switch (status) {
	case XS_NOT_ENOUGH_MEMORY_EXIT: why = "memory full"; code = EXIT_MEMORY_FULL; break;
	case XS_STACK_OVERFLOW_EXIT: why = "stack overflow"; code = EXIT_STACK_OVERFLOW; break;
	case XS_NO_MORE_KEYS_EXIT: why = "not enough keys"; code = EXIT_NO_MORE_KEYS; break;
	case XS_UNHANDLED_EXCEPTION_EXIT: why = "unhandled exception"; code = EXIT_JS_ERROR; break;
	case XS_UNHANDLED_REJECTION_EXIT: why = "unhandled rejection"; code = EXIT_JS_ERROR; break;
	default: why = "abort"; code = EXIT_OTHER_ABORT; break;
	}
	const char* machine = the == gDevice ? "device" : the == gFlash ? "flash" : "compiler";
	printf("@fit {\"aborted\":\"%s\",\"machine\":\"%s\",\"slots\":%ld,\"peakSlots\":%ld,\"heapSlots\":%ld,\"chunks\":%ld,\"peakChunks\":%ld,\"chunkBytes\":%ld}\n",
		why, machine,
		(long)the->currentHeapCount, (long)the->peakHeapCount, (long)the->maximumHeapCount,
		(long)the->currentChunksSize, (long)the->peakChunksSize, (long)the->maximumChunksSize);
	fflush(stdout);
	if (status == XS_STACK_OVERFLOW_EXIT)
		fxPrintFrames(the);
	if (the == gDevice && code == EXIT_STACK_OVERFLOW && gStackLimit > 0)
		fprintf(stderr, "xsdot-fit: stack overflow: the phase needs more than the %ld stack slots it was held to (of %ld)\n",
			(long)gStackLimit, (long)gDeviceCreation.stackCount);
	else if (the == gDevice && (code == EXIT_MEMORY_FULL || code == EXIT_STACK_OVERFLOW || code == EXIT_NO_MORE_KEYS))
		fprintf(stderr, "xsdot-fit: %s: the app exceeded the device budget (chunks %ld bytes, heap %ld slots of %d bytes, stack %ld slots, no growth)\n",
			why, (long)gDeviceCreation.initialChunkSize, (long)gDeviceCreation.initialHeapCount, (int)sizeof(txSlot), (long)gDeviceCreation.stackCount);
	else if (code == EXIT_JS_ERROR && (status == XS_UNHANDLED_REJECTION_EXIT || status == XS_UNHANDLED_EXCEPTION_EXIT))
		fprintf(stderr, "xsdot-fit: %s in the %s machine: %s\n", why, machine, fxToString(the, &mxException));
	else
		fprintf(stderr, "xsdot-fit: %s in the %s machine\n", why, machine);
	fflush(stderr);
	exit(code);
}

/* ---- globals for the bundle -------------------------------------------------------------------- */

static void xs_print(xsMachine* the)
{
	xsIntegerValue c = xsToInteger(xsArgc), i;
	for (i = 0; i < c; i++) {
		if (i) fputc(' ', stdout);
		fputs(xsToString(xsArg(i)), stdout);
	}
	fputc('\n', stdout);
	fflush(stdout);
}

/* Cryptographically secure bytes from the kernel, as esp_random() gives them on the device. */
static void xs_fit_random(xsMachine* the)
{
	xsIntegerValue length = xsToInteger(xsArg(0));
	if (length < 0 || length > 65536) xsRangeError("__fitRandom: bad length");
	xsResult = xsArrayBuffer(NULL, length);
	uint8_t* bytes = xsToArrayBuffer(xsResult);
	xsIntegerValue done = 0;
	while (done < length) {
		ssize_t got = getrandom(bytes + done, (size_t)(length - done), 0);
		if (got < 0) {
			if (errno == EINTR) continue;
			xsUnknownError("__fitRandom: getrandom failed");
		}
		done += (xsIntegerValue)got;
	}
}

/* SHA-256 (FIPS 180-4) in C: the fit host's native digest, as a device has the SDK's Digest("SHA256"). */
static const uint32_t kSha256K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

typedef struct { uint32_t state[8]; uint8_t block[64]; uint32_t used; uint64_t length; } Sha256;

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void fxSha256Compress(Sha256* h, const uint8_t* p)
{
	uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
	int i;
	for (i = 0; i < 16; i++) w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10)) + w[i - 7] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	a = h->state[0]; b = h->state[1]; c = h->state[2]; d = h->state[3]; e = h->state[4]; f = h->state[5]; g = h->state[6]; k = h->state[7];
	for (i = 0; i < 64; i++) {
		t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + kSha256K[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h->state[0] += a; h->state[1] += b; h->state[2] += c; h->state[3] += d; h->state[4] += e; h->state[5] += f; h->state[6] += g; h->state[7] += k;
}

static void fxSha256Update(Sha256* h, const uint8_t* data, size_t size)
{
	h->length += size;
	while (size > 0) {
		size_t take = 64 - h->used;
		if (take > size) take = size;
		memcpy(h->block + h->used, data, take);
		h->used += (uint32_t)take; data += take; size -= take;
		if (h->used == 64) { fxSha256Compress(h, h->block); h->used = 0; }
	}
}

/* __fitSha256(...views): the SHA-256 of its arguments' bytes (ArrayBuffers or views) concatenated, as an ArrayBuffer of 32 bytes. */
static void xs_fit_sha256(xsMachine* the)
{
	static const uint32_t initial[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	Sha256 h;
	uint8_t out[32];
	uint64_t bits;
	int i, argc = xsToInteger(xsArgc);
	memcpy(h.state, initial, sizeof(initial));
	h.used = 0;
	h.length = 0;
	for (i = 0; i < argc; i++) {
		void* data;
		xsUnsignedValue size;
		_xsmcGetBuffer(the, &xsArg(i), &data, &size, 0);
		fxSha256Update(&h, (const uint8_t*)data, size);
	}
	bits = h.length * 8;
	h.block[h.used++] = 0x80;
	if (h.used > 56) { memset(h.block + h.used, 0, 64 - h.used); fxSha256Compress(&h, h.block); h.used = 0; }
	memset(h.block + h.used, 0, 56 - h.used);
	for (i = 0; i < 8; i++) h.block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	fxSha256Compress(&h, h.block);
	for (i = 0; i < 8; i++) { out[4 * i] = h.state[i] >> 24; out[4 * i + 1] = h.state[i] >> 16; out[4 * i + 2] = h.state[i] >> 8; out[4 * i + 3] = h.state[i]; }
	/* Allocated last: a collection may move buffer data, so nothing is read from the arguments after this. */
	xsResult = xsArrayBuffer(out, 32);
}

/* [slots, peakSlots, chunks, peakChunks] of the calling machine, read before the array is allocated. */
static void xs_fit_memory(xsMachine* the)
{
	txMachine* machine = (txMachine*)the;
	double values[6] = {
		machine->currentHeapCount, machine->peakHeapCount, machine->currentChunksSize, machine->peakChunksSize,
		machine->maximumHeapCount, machine->maximumChunksSize,
	};
	xsResult = xsNewArray(6);
	for (int i = 0; i < 6; i++) xsSetIndex(xsResult, i, xsNumber(values[i]));
}

static void xs_fit_reset_peak(xsMachine* the)
{
	txMachine* machine = (txMachine*)the;
	machine->peakHeapCount = machine->currentHeapCount;
	machine->peakChunksSize = machine->currentChunksSize;
}

/* __fitStackLimit(slots): from now on XS may use only the top `slots` slots of the stack (it checks
 * every push against the->stackBottom and aborts with "stack overflow" beyond it); 0 gives back the
 * whole stack. Lets a scenario hold one phase to a tighter budget than the machine's. */
static void xs_fit_stack_limit(xsMachine* the)
{
	txMachine* machine = (txMachine*)the;
	xsIntegerValue slots = xsToInteger(xsArg(0));
	if (machine != gDevice) xsUnknownError("__fitStackLimit: device machine only");
	txSlot* whole = machine->stackTop - gDeviceCreation.stackCount;
	txSlot* bottom = slots > 0 ? machine->stackTop - slots : whole;
	if (bottom < whole || bottom >= machine->stack) xsRangeError("__fitStackLimit: %d slots: more than the stack, or less than is in use", (int)slots);
	machine->stackBottom = bottom;
	gStackLimit = slots;
}

static void xs_fit_gc(xsMachine* the)
{
	xsCollectGarbage();
}

static void xs_performance_now(xsMachine* the)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	xsResult = xsNumber((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6);
}

static void fxBuildGlobals(xsMachine* machine)
{
	xsBeginHost(machine);
	xsVars(2);
	xsVar(0) = xsNewHostFunction(xs_print, 1);
	xsDefine(xsGlobal, xsID("print"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_random, 1);
	xsDefine(xsGlobal, xsID("__fitRandom"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_memory, 0);
	xsDefine(xsGlobal, xsID("__fitMemory"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_reset_peak, 0);
	xsDefine(xsGlobal, xsID("__fitResetPeak"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_stack_limit, 1);
	xsDefine(xsGlobal, xsID("__fitStackLimit"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_gc, 0);
	xsDefine(xsGlobal, xsID("__fitGC"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewHostFunction(xs_fit_sha256, 0);
	xsDefine(xsGlobal, xsID("__fitSha256"), xsVar(0), xsDontEnum);
	xsVar(0) = xsNewObject();
	xsVar(1) = xsNewHostFunction(xs_performance_now, 0);
	xsDefine(xsVar(0), xsID("now"), xsVar(1), xsDontEnum);
	xsDefine(xsGlobal, xsID("performance"), xsVar(0), xsDontEnum);
	xsEndHost(machine);
	modInstallTextDecoder(machine);
	modInstallTextEncoder(machine);
}

/* ---- helpers ----------------------------------------------------------------------------------- */

static char* fxReadFile(const char* path, size_t* size)
{
	FILE* file = fopen(path, "rb");
	if (!file) {
		fprintf(stderr, "xsdot-fit: cannot open %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fseek(file, 0, SEEK_END);
	long length = ftell(file);
	fseek(file, 0, SEEK_SET);
	char* buffer = malloc((size_t)length + 1);
	if (!buffer || fread(buffer, 1, (size_t)length, file) != (size_t)length) {
		fprintf(stderr, "xsdot-fit: cannot read %s\n", path);
		exit(1);
	}
	buffer[length] = 0;
	fclose(file);
	if (size) *size = (size_t)length;
	return buffer;
}

/* Prints a caught exception (message and stack) and exits with EXIT_JS_ERROR. Call it from the xsCatch
 * of a host block that reserved xsVars(1) or more: it uses xsVar(0). */
static void fxFailWithException(xsMachine* the, const char* during)
{
	xsVar(0) = xsException;
	xsException = xsUndefined;
	char message[512];
	snprintf(message, sizeof(message), "%s", xsToString(xsVar(0)));
	fprintf(stderr, "xsdot-fit: exception %s: %s\n", during, message);
	if (xsTypeOf(xsVar(0)) == xsReferenceType) {
		xsVar(0) = xsGet(xsVar(0), xsID("stack"));
		if (xsTypeOf(xsVar(0)) == xsStringType) fprintf(stderr, "%s\n", xsToString(xsVar(0)));
	}
	printf("@fit {\"error\":");
	fxPrintJSONString(stdout, during);
	printf(",\"message\":");
	fxPrintJSONString(stdout, message);
	printf("}\n");
	fflush(stdout);
	fflush(stderr);
	exit(EXIT_JS_ERROR);
}

/*
 * What the XS linker does to preloaded instances it cannot alias: their internal slot becomes
 * read-only, so Map.prototype.set and the like throw a TypeError at run time. Returns the number of
 * RegExp and generator instances left in the heap: the linker refuses to preload those (an aliased
 * RegExp would also point the device at flash chunks of its compiled pattern).
 */
static int fxMarkUnaliasable(txMachine* the)
{
	int unpreloadable = 0;
	txSlot* heap = the->firstHeap;
	while (heap) {
		txSlot* slot = heap + 1;
		txSlot* limit = heap->value.reference;
		while (slot < limit) {
			if (slot->kind == XS_INSTANCE_KIND) {
				txSlot* internal = slot->next;
				if (internal && (internal->flag & XS_INTERNAL_FLAG)) {
					switch (internal->kind) {
					case XS_MAP_KIND:
					case XS_SET_KIND:
					case XS_WEAK_MAP_KIND:
					case XS_WEAK_SET_KIND:
					case XS_ARRAY_BUFFER_KIND:
					case XS_DATE_KIND:
						internal->flag |= XS_DONT_SET_FLAG;
						break;
					case XS_REGEXP_KIND:
					case XS_STACK_KIND:
						unpreloadable++;
						break;
					default:
						break;
					}
				}
			}
			slot++;
		}
		heap = heap->next;
	}
	return unpreloadable;
}

static void fxFreezeSlot(txSlot* slot)
{
	switch (slot->kind) {
	case XS_STRING_KIND: slot->kind = XS_STRING_X_KIND; break;
	case XS_KEY_KIND: slot->kind = XS_KEY_X_KIND; break;
	case XS_BIGINT_KIND: slot->kind = XS_BIGINT_X_KIND; break;
	default: break;
	}
}

/*
 * After sharing, the flash machine never collects or moves anything again, so its strings, keys and
 * bigints are as fixed as data in ROM: give them the "X" kinds the XS linker gives ROM data. Otherwise
 * a device slot that copies such a value (a key name from Object.keys, a string property of a
 * preloaded object) would point into flash chunks, and the device's compacting collector would
 * "move" them there — corrupting the value.
 */
static void fxFreezeFlash(txMachine* the)
{
	txSlot* heap = the->firstHeap;
	while (heap) {
		txSlot* slot = heap + 1;
		txSlot* limit = heap->value.reference;
		while (slot < limit) {
			fxFreezeSlot(slot);
			if (slot->kind == XS_ARRAY_KIND && slot->value.array.address) {
				txSlot* item = slot->value.array.address;
				txSize length = (((txChunk*)(((txByte*)item) - sizeof(txChunk)))->size) / sizeof(txSlot);
				while (length-- > 0) fxFreezeSlot(item++);
			}
			slot++;
		}
		heap = heap->next;
	}
	for (txSlot* slot = the->stack; slot < the->stackTop; slot++) fxFreezeSlot(slot);
}

extern void fxRemapIDs(txMachine* the, txByte* codeBuffer, txSize codeSize, txID* theIDs);

/*
 * Turns a parsed script into what the XS linker puts in flash: its names are registered as keys of
 * the (flash) machine, and every function body and string literal becomes an "archive" instruction
 * that XS runs in place instead of copying it into chunks (XS_CODE_CODE_n → XS_CODE_CODE_ARCHIVE_n,
 * XS_CODE_STRING_n → XS_CODE_STRING_ARCHIVE_n). Without its symbols the script is no longer freed
 * by fxRunScript, so the code stays where it is: outside both machines' chunks, as in flash.
 */
static void fxArchiveScript(txMachine* the, txScript* script)
{
	if (script->symbolsBuffer) {
		txByte* p = script->symbolsBuffer;
		txID c, i;
		mxDecodeID(p, c);
		txID* ids = c_malloc(c * sizeof(txID));
		if (!ids) fxAbort(the, XS_NOT_ENOUGH_MEMORY_EXIT);
		ids[0] = XS_NO_ID;
		for (i = 1; i < c; i++) {
			ids[i] = fxNewNameC(the, (txString)p);
			p += mxStringLength((char*)p) + 1;
		}
		fxRemapIDs(the, script->codeBuffer, script->codeSize, ids);
		c_free(ids);
		c_free(script->symbolsBuffer);
		script->symbolsBuffer = C_NULL;
		script->symbolsSize = 0;
	}
	const txS1* sizes = gxCodeSizes;
	txByte* p = script->codeBuffer;
	txByte* q = p + script->codeSize;
	while (p < q) {
		txU1 code = *((txU1*)p);
		if ((XS_CODE_CODE_1 <= code && code <= XS_CODE_CODE_4) || (XS_CODE_STRING_1 <= code && code <= XS_CODE_STRING_4))
			*((txU1*)p) = code + (XS_CODE_CODE_ARCHIVE_1 - XS_CODE_CODE_1);
		txS1 offset = sizes[code];
		if (0 < offset)
			p += offset;
		else if (0 == offset)
			p += 1 + sizeof(txID);
		else if (-1 == offset) {
			txU1 index = *((txU1*)(p + 1));
			p += 2 + index;
		}
		else if (-2 == offset) {
			txU2 index;
			p++;
			mxDecode2(p, index);
			p += index;
		}
		else {
			txS4 index;
			p++;
			mxDecode4(p, index);
			p += index;
		}
	}
}

/* Runs the promise jobs until none is left, as Moddable's main loop does between events. */
static void fxDrainJobs(txMachine* the)
{
	while (the->promiseJobs) {
		the->promiseJobs = 0;
		fxRunPromiseJobs(the);
	}
	fxEndJob(the);
}

/* ---- run ------------------------------------------------------------------------------------- */

static int fxRun(int argc, char** argv)
{
	xsCreation flashCreation = {
		4 * 1024 * 1024,	/* initialChunkSize */
		1024 * 1024,		/* incrementalChunkSize */
		256 * 1024,			/* initialHeapCount */
		64 * 1024,			/* incrementalHeapCount */
		8192,				/* stackCount */
		4096,				/* initialKeyCount */
		1024,				/* incrementalKeyCount */
		127,				/* nameModulo: the clone copies the table, so both machines share it */
		127,				/* symbolModulo */
		8 * 1024 * 1024,	/* parserBufferSize */
		1993,				/* parserTableModulo */
		0,					/* staticSize */
	};
	/* Moddable Two (build/devices/esp32/targets/moddable_two/manifest.json) and manifest_base's keys/parser. */
	xsCreation deviceCreation = {
		78848,	/* initialChunkSize */
		0,		/* incrementalChunkSize */
		4928,	/* initialHeapCount */
		0,		/* incrementalHeapCount */
		512,	/* stackCount */
		32,		/* initialKeyCount */
		32,		/* incrementalKeyCount */
		127,	/* nameModulo */
		127,	/* symbolModulo */
		1024,	/* parserBufferSize */
		17,		/* parserTableModulo */
		0,		/* staticSize */
	};
	const char* bundlePath = NULL;
	const char* arg = "";
	for (int i = 0; i < argc; i++) {
		const char* option = argv[i];
		if (!strcmp(option, "--preload")) { gPreload = 1; continue; }
		if (option[0] == '-' && option[1] == '-') {
			if (i + 1 >= argc) { fprintf(stderr, "xsdot-fit: %s needs a value\n", option); return 1; }
			const char* value = argv[++i];
			if (!strcmp(option, "--arg")) { arg = value; continue; }
			char* end;
			long number = strtol(value, &end, 10);
			if (*end || number <= 0 || number > 0x7FFFFFFF) { fprintf(stderr, "xsdot-fit: bad value for %s: %s\n", option, value); return 1; }
			if (!strcmp(option, "--chunk")) deviceCreation.initialChunkSize = (txSize)number;
			else if (!strcmp(option, "--heap")) deviceCreation.initialHeapCount = (txSize)number;
			else if (!strcmp(option, "--stack")) deviceCreation.stackCount = (txSize)number;
			else { fprintf(stderr, "xsdot-fit: unknown option %s\n", option); return 1; }
			continue;
		}
		if (bundlePath) { fprintf(stderr, "xsdot-fit: one bundle only\n"); return 1; }
		bundlePath = option;
	}
	if (!bundlePath) { fprintf(stderr, "usage: xsdot-fit run [--chunk BYTES] [--heap SLOTS] [--stack SLOTS] [--preload] [--arg TEXT] BUNDLE.js\n"); return 1; }
	gDeviceCreation = deviceCreation;
	printf("@fit {\"budget\":{\"chunk\":%ld,\"heap\":%ld,\"stack\":%ld,\"slotSize\":%d},\"preload\":%s}\n",
		(long)deviceCreation.initialChunkSize, (long)deviceCreation.initialHeapCount, (long)deviceCreation.stackCount,
		(int)sizeof(txSlot), gPreload ? "true" : "false");

	size_t size;
	char* source = fxReadFile(bundlePath, &size);

	/* Flash: built-ins, the bundle's bytecode and (with --preload) its module objects. */
	gFlash = xsCreateMachine(&flashCreation, "flash", NULL);
	if (!gFlash) { fprintf(stderr, "xsdot-fit: cannot create the flash machine\n"); return 1; }
	fxBuildGlobals(gFlash);
	fxCollectGarbage(gFlash);
	fxPrintMemory("builtins", gFlash);
	int regexpsBefore = fxMarkUnaliasable(gFlash);
	{
		txMachine* the = gFlash;
		xsBeginHost(the);
		xsVars(1);
		xsTry {
			txStringCStream stream = { source, 0, (txSize)size };
			txScript* script = fxParseScript(the, &stream, fxStringCGetter, mxProgramFlag);
			if (!script) xsSyntaxError("the bundle does not parse");
			fxArchiveScript(the, script);
			txSlot* realm = mxProgram.value.reference->next->value.module.realm;
			fxRunScript(the, script, mxRealmGlobal(realm), C_NULL, mxRealmClosures(realm)->value.reference, C_NULL, mxProgram.value.reference);
			mxPop();
			xsVar(0) = xsGet(xsGlobal, xsID("__xsdotFitLoad"));
			if (xsTypeOf(xsVar(0)) != xsReferenceType) xsTypeError("the bundle did not define globalThis.__xsdotFitLoad");
			if (gPreload) {
				xsVar(0) = xsCallFunction0(xsVar(0), xsUndefined);
				xsDefine(xsGlobal, xsID("__xsdotFit"), xsVar(0), xsDontEnum);
			}
		}
		xsCatch {
			fxFailWithException(the, gPreload ? "while preloading the bundle" : "while loading the bundle");
		}
		xsEndHost(the);
		fxDrainJobs(the);
	}
	free(source);
	fxCollectGarbage(gFlash);
	fxPrintMemory("flash", gFlash);
	int regexps = fxMarkUnaliasable(gFlash) - regexpsBefore;
	xsShareMachine(gFlash);
	fxFreezeFlash(gFlash);
	printf("@fit {\"phase\":\"shared\",\"aliases\":%ld,\"preloadedRegExps\":%d,\"keys\":%ld}\n",
		(long)gFlash->aliasCount, regexps, (long)gFlash->keyIndex);
	if (gPreload && regexps > 0) {
		fprintf(stderr, "xsdot-fit: not preloadable: %d RegExp or generator instance(s) remain after preloading the modules; "
			"the XS linker refuses those (\"### error …: regexp\"). Create them on first use instead of when a module loads.\n", regexps);
		printf("@fit {\"error\":\"not preloadable\",\"message\":\"%d RegExp or generator instance(s) preloaded\"}\n", regexps);
		return EXIT_NOT_PRELOADABLE;
	}

	/* Device: the fixed budget. */
	gDevice = xsCloneMachine(&deviceCreation, gFlash, "device", NULL);
	if (!gDevice) { fprintf(stderr, "xsdot-fit: cannot create the device machine (budget too small for an empty machine?)\n"); return EXIT_MEMORY_FULL; }
	fxCollectGarbage(gDevice);
	fxPrintMemory("empty", gDevice);
	{
		txMachine* the = gDevice;
		xsBeginHost(the);
		xsVars(2);
		xsTry {
			if (gPreload)
				xsVar(0) = xsGet(xsGlobal, xsID("__xsdotFit"));
			else
				xsVar(0) = xsCall0(xsGlobal, xsID("__xsdotFitLoad"));
			xsDefine(xsGlobal, xsID("__xsdotFitApi"), xsVar(0), xsDontEnum);
		}
		xsCatch {
			fxFailWithException(the, "while evaluating the modules on the device");
		}
		xsEndHost(the);
		fxDrainJobs(the);
		fxCollectGarbage(the);
		fxPrintMemory("loaded", the);

		xsBeginHost(the);
		xsVars(2);
		xsTry {
			xsVar(0) = xsGet(xsGlobal, xsID("__xsdotFitApi"));
			xsCall1(xsVar(0), xsID("start"), xsString(arg));
		}
		xsCatch {
			fxFailWithException(the, "in start()");
		}
		xsEndHost(the);

		int done = 0;
		while (!done) {
			fxDrainJobs(the);
			xsBeginHost(the);
			xsVars(2);
			xsTry {
				xsVar(0) = xsGet(xsGlobal, xsID("__xsdotFitApi"));
				xsVar(1) = xsCall0(xsVar(0), xsID("step"));
				const char* status = xsToString(xsVar(1));
				if (strcmp(status, "continue")) {
					done = 1;
					if (!strncmp(status, "done ", 5)) {
						printf("@fit {\"result\":%s}\n", status + 5);
					}
					else {
						fprintf(stderr, "xsdot-fit: the scenario failed: %s\n", status);
						printf("@fit {\"error\":");
						fxPrintJSONString(stdout, status);
						printf("}\n");
						fflush(stdout);
						exit(EXIT_JS_ERROR);
					}
				}
			}
			xsCatch {
				fxFailWithException(the, "in step()");
			}
			xsEndHost(the);
		}
		fxCheckUnhandledRejections(the, 1);
		fxPrintMemory("done", the);
		fxCollectGarbage(the);
		fxPrintMemory("after-gc", the);
	}
	xsDeleteMachine(gDevice);
	gDevice = NULL;
	return 0;
}

/* ---- compile ----------------------------------------------------------------------------------- */

static int fxCompile(int argc, char** argv)
{
	xsCreation creation = {
		1024 * 1024, 1024 * 1024, 64 * 1024, 16 * 1024, 4096, 4096, 1024, 127, 127, 8 * 1024 * 1024, 1993, 0,
	};
	txMachine* the = xsCreateMachine(&creation, "compiler", NULL);
	if (!the) return 1;
	int status = 0;
	for (int i = 0; i < argc; i++) {
		size_t size;
		char* source = fxReadFile(argv[i], &size);
		txStringCStream stream = { source, 0, (txSize)size };
		txScript* script = NULL;
		xsBeginHost(the);
		xsTry {
			script = fxParseScript(the, &stream, fxStringCGetter, 0);
		}
		xsCatch {
			script = NULL;
		}
		xsEndHost(the);
		printf("@fit {\"file\":");
		fxPrintJSONString(stdout, argv[i]);
		if (script && script->codeBuffer) {
			printf(",\"code\":%ld,\"symbols\":%ld,\"hosts\":%ld}\n", (long)script->codeSize, (long)script->symbolsSize, (long)script->hostsSize);
			fxDeleteScript(script);
		}
		else {
			printf(",\"error\":\"does not parse\"}\n");
			status = EXIT_JS_ERROR;
		}
		free(source);
	}
	xsDeleteMachine(the);
	return status;
}

int main(int argc, char** argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "run")) return fxRun(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "compile")) return fxCompile(argc - 2, argv + 2);
	fprintf(stderr, "usage: xsdot-fit run [--chunk BYTES] [--heap SLOTS] [--stack SLOTS] [--preload] [--arg TEXT] BUNDLE.js\n"
		"       xsdot-fit compile FILE.js...\n");
	return 1;
}
