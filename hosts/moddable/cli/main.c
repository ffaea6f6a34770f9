/*
 * xsdot: main() of the headless Linux executable (mcconfig -p x-cli-lin), used to run the HTTP
 * integration tests against the real XS engine and the SDK's ECMA-419 sockets.
 *
 * The SDK has no x-cli-lin runtime: this creates the machine from the preparation xsl linked in (with the
 * manifest's "creation" sizes), imports the module named by creation.main (calling its default export
 * if it is a function, as devices do; a number it returns is the exit status, without a loop), then runs
 * a GLib main loop on the default context, where the SDK's Linux timers, socket
 * polls and promise jobs live. SIGINT and SIGTERM end the loop (and the parent's death sends SIGTERM);
 * SIGPIPE is ignored so that writing to a socket the client closed is an error, not the end of the process.
 */
#include "xsAll.h"
#include "mc.xs.h"

#include <glib.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>

/*
 * x-cli-lin's build has no resource step: an app with resources links the table scripts/assets.ts
 * generates (its mcGetResource wins); without one, every Resource lookup finds nothing.
 */
__attribute__((weak)) const void *mcGetResource(void *the, const char *path, size_t *size)
{
	return NULL;
}

static GMainLoop *gLoop = NULL;
static int gExitStatus = 0;
static int gRunLoop = 1;

/*
 * Called by XS on fatal conditions. An exception nobody caught in a host callback (a timer, a socket
 * event) is logged and the program goes on, as on a device; anything else (memory full, stack overflow)
 * ends the process with a non-zero status.
 */
void fxAbort(xsMachine *the, int status)
{
	fprintf(stderr, "XS abort: %s\n", fxAbortString(status));
	fflush(stderr);
	if (xsUnhandledExceptionExit == status)
		return;
	exit(100 + status);
}

static gboolean onSignal(gpointer data)
{
	fprintf(stderr, "xsdot: %s, stopping\n", (const char *)data);
	if (gLoop)
		g_main_loop_quit(gLoop);
	return G_SOURCE_REMOVE;
}

int main(int argc, char *argv[])
{
	txPreparation *preparation = xsPreparation();
	xsMachine *machine;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	/* A test server must not outlive the test runner that started it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);

	machine = fxPrepareMachine(NULL, preparation, "xsdot", NULL, NULL);
	if (!machine) {
		fprintf(stderr, "xsdot: cannot create the XS machine\n");
		return 1;
	}

	gLoop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGINT, onSignal, "SIGINT");
	g_unix_signal_add(SIGTERM, onSignal, "SIGTERM");

	xsBeginHost(machine);
	{
		xsVars(1);
		xsTry {
			xsVar(0) = xsAwaitImport(preparation->main, XS_IMPORT_DEFAULT);
			if (xsTest(xsVar(0)) && xsIsInstanceOf(xsVar(0), xsFunctionPrototype)) {
				xsResult = xsCallFunction0(xsVar(0), xsGlobal);
				/* A number returned by main is an exit status: the program ends without a loop (self-tests). */
				if ((xsIntegerType == xsTypeOf(xsResult)) || (xsNumberType == xsTypeOf(xsResult))) {
					gExitStatus = xsToInteger(xsResult);
					gRunLoop = 0;
				}
			}
		}
		xsCatch {
			fprintf(stderr, "xsdot: main failed: %s\n", xsToString(xsException));
			gExitStatus = 1;
			gRunLoop = 0;
		}
	}
	xsEndHost(machine);

	if (gRunLoop && (0 == gExitStatus))
		g_main_loop_run(gLoop);

	g_main_loop_unref(gLoop);
	xsDeleteMachine(machine);
	return gExitStatus;
}
