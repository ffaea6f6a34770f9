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
 *   listenProblem(port)  Linux and macOS: why a TCP listener on `port` (all interfaces, SO_REUSEADDR, as
 *                the SDK's Linux Listener binds) cannot be opened — strerror(), e.g. "Address already in
 *                use" — or undefined when it can. Asked before creating the SDK's Listener, whose failed
 *                bind frees its record while XS still remembers it (the process then crashes).
 *                Undefined elsewhere (lwIP: nothing else listens on a device).
 *   directoryProblem(path)  Linux and macOS: why a file cannot be created in the directory `path`
 *                (strerror of creating and removing a probe file), or undefined when it can. The SDK's
 *                Linux Preference ignores write errors: the store is checked once at start instead.
 *                Undefined elsewhere.
 *   exitProcess(status)  Linux and macOS: ends the process (the simulator too) with `status`, after
 *                flushing stdout and stderr. Does nothing elsewhere.
 */
#include "xsAll.h"
#include "xsmc.h"

#if defined(ESP32)
	#include "esp_timer.h"
#else
	#include <errno.h>
	#include <fcntl.h>
	#include <netinet/in.h>
	#include <signal.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <string.h>
	#include <sys/socket.h>
	#include <sys/stat.h>
	#include <time.h>
	#include <unistd.h>
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

void xs_xsdot_listen_problem(xsMachine *the)
{
#if defined(__linux__) || defined(__APPLE__)
	int port = xsmcToInteger(xsArg(0));
	int skt = socket(AF_INET, SOCK_STREAM, 0);
	if (skt < 0) {
		xsmcSetString(xsResult, strerror(errno));
		return;
	}
	int yes = 1;
	setsockopt(skt, SOL_SOCKET, SO_REUSEADDR, (void *)&yes, sizeof(yes));
	struct sockaddr_in address = { 0 };
	address.sin_family = AF_INET;
	address.sin_port = htons(port);
	int failed = (bind(skt, (struct sockaddr *)&address, sizeof(address)) < 0) || (listen(skt, 1) < 0);
	int error = errno;
	close(skt);
	if (failed)
		xsmcSetString(xsResult, strerror(error));
#endif
}

void xs_xsdot_directory_problem(xsMachine *the)
{
#if defined(__linux__) || defined(__APPLE__)
	char path[1024];
	int length = snprintf(path, sizeof(path), "%s/.xsdot-write-test-%ld", xsmcToString(xsArg(0)), (long)getpid());
	if ((length < 0) || (length >= (int)sizeof(path))) {
		xsmcSetString(xsResult, "path too long");
		return;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		xsmcSetString(xsResult, strerror(errno));
		return;
	}
	close(fd);
	if (unlink(path) < 0)
		xsmcSetString(xsResult, strerror(errno));
#endif
}

void xs_xsdot_exit_process(xsMachine *the)
{
#if defined(__linux__) || defined(__APPLE__)
	int status = xsmcToInteger(xsArg(0));
	fflush(stdout);
	fflush(stderr);
	exit(status);
#endif
}
