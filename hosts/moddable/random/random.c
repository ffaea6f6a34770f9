/*
 * xsdot: cryptographically secure random bytes for the Moddable host, from the platform's CSPRNG.
 *
 *   ESP32: esp_fill_random(), the hardware RNG. Its output is truly random while the RF subsystem
 *          (Wi-Fi or Bluetooth) runs, as it does when xsdot serves, or after the bootloader's entropy
 *          source was enabled (ESP-IDF "Random number generation" in the technical reference).
 *   Linux: getrandom(2) (the kernel CSPRNG), for the simulator and the x-cli-lin test executable.
 *   macOS: arc4random_buf(3), for the mac simulator.
 *
 * Never Math.random: on the Linux builds it is glibc rand(), never seeded.
 */
#include "xsmc.h"

#if defined(ESP32)
	#include "esp_random.h"
#elif defined(__linux__)
	#include <errno.h>
	#include <sys/random.h>
#elif defined(__APPLE__)
	#include <stdlib.h>
#else
	#error "xsdot random: no CSPRNG for this platform"
#endif

/* randomFill(buffer): fills an ArrayBuffer, typed array or DataView with random bytes; returns it. */
void xs_xsdot_random_fill(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;

	xsmcGetBufferWritable(xsArg(0), &data, &length);
#if defined(ESP32)
	esp_fill_random(data, length);
#elif defined(__linux__)
	{
		uint8_t *bytes = data;
		while (length > 0) {
			ssize_t count = getrandom(bytes, length, 0);
			if (count < 0) {
				if (EINTR == errno)
					continue;
				xsUnknownError("getrandom failed");
			}
			bytes += count;
			length -= (xsUnsignedValue)count;
		}
	}
#elif defined(__APPLE__)
	arc4random_buf(data, length);
#endif
	xsResult = xsArg(0);
}
