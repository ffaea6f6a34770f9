/*
 * xsdot: small platform queries for the Moddable host.
 *
 *   monotonic()  milliseconds since boot (ESP32: esp_timer) or since an arbitrary point (Linux/macOS:
 *                CLOCK_MONOTONIC); never goes backwards, unlike Date.now() and, on Linux, Time.ticks.
 *   heapFree()   bytes the XS machine can still allocate before it must grow or fail: free chunk bytes
 *                plus free slots times the slot size (with a fixed heap, as on the device, that is what
 *                is left; garbage not yet collected counts as used).
 *   getenv(name) the environment variable, on Linux and macOS builds; undefined elsewhere.
 *   prepareProcess()  on Linux and macOS: a write to a socket the peer closed becomes an error instead
 *                of killing the process (the SDK's Linux TCP writes with write(2); mcsim keeps SIGPIPE's
 *                default action), and files are created readable by their owner only (umask 077): the
 *                SDK's Linux Preference rewrites its JSON file, which holds the session keys and the
 *                password hash, on every set(). Nothing elsewhere.
 */
#include "xsAll.h"
#include "xsmc.h"

#if defined(ESP32)
	#include "esp_timer.h"
#else
	#include <signal.h>
	#include <stdlib.h>
	#include <sys/stat.h>
	#include <time.h>
#endif

void xs_xsdot_monotonic(xsMachine *the)
{
#if defined(ESP32)
	xsmcSetNumber(xsResult, (double)esp_timer_get_time() / 1000.0);
#else
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	xsmcSetNumber(xsResult, ((double)now.tv_sec * 1000.0) + ((double)now.tv_nsec / 1000000.0));
#endif
}

void xs_xsdot_heap_free(xsMachine *the)
{
	double chunks = (double)the->maximumChunksSize - (double)the->currentChunksSize;
	double slots = ((double)the->maximumHeapCount - (double)the->currentHeapCount) * (double)sizeof(txSlot);
	xsmcSetNumber(xsResult, chunks + slots);
}

void xs_xsdot_getenv(xsMachine *the)
{
#if defined(__linux__) || defined(__APPLE__)
	const char *value = getenv(xsmcToString(xsArg(0)));
	if (value)
		xsmcSetString(xsResult, (char *)value);
#endif
}

void xs_xsdot_prepare_process(xsMachine *the)
{
#if defined(__linux__) || defined(__APPLE__)
	signal(SIGPIPE, SIG_IGN);
	umask(077);
#endif
}
