/*
 * The XS platform of xsdot's device-fit host (hosts/xs/fit/fit.c): plain Linux, no sockets, no
 * debugger. Built 32-bit (`gcc -m32`) so that slots are 16 bytes, as on the ESP32.
 *
 * Like Moddable's ESP32 platform it uses the default chunk and slot allocators, so a machine created
 * with `incremental: 0` cannot grow: exceeding its creation budget aborts with XS_NOT_ENOUGH_MEMORY_EXIT,
 * which fit.c turns into a distinct exit code.
 */
#ifndef __FIT_PLATFORM__
#define __FIT_PLATFORM__

#if !defined(__GNUC__) || !defined(__linux__)
	#error the device-fit host builds with gcc on Linux only
#endif

#undef mxLittleEndian
#define mxLittleEndian 1
#undef mxLinux
#define mxLinux 1
#define mxExport extern
#define mxImport extern
#define XS_FUNCTION_NORETURN __attribute__((noreturn))

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <unistd.h>

#define mxUseGCCAtomics 1
#define mxUsePOSIXThreads 1

/* promiseJobs: set by fxQueuePromiseJobs, drained by fit.c's loop. */
#define mxMachinePlatform \
	void* waiterCondition; \
	void* waiterData; \
	void* waiterLink; \
	int promiseJobs;

#define mxUseDefaultMachinePlatform 1
#define mxUseDefaultBuildKeys 1
#define mxUseDefaultChunkAllocation 1
#define mxUseDefaultSlotAllocation 1
#define mxUseDefaultFindModule 1
#define mxUseDefaultLoadModule 1
#define mxUseDefaultParseScript 1
#define mxUseDefaultSharedChunks 1
#define mxUseDefaultDebug 1
/* fxAbort and fxQueuePromiseJobs are fit.c's. */

#endif /* __FIT_PLATFORM__ */
