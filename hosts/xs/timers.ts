/**
 * Virtual time for xsnap, which has no setTimeout. Nothing fires on its own: whoever drives the
 * worker (the test shim's step()) calls runNextTimer() when the promise job queue is empty. That
 * moves a virtual clock forward to the timer's due time, so code that measures time sees it pass
 * while tests never sleep.
 */

interface Timer {
  readonly id: number;
  readonly due: number;
  readonly callback: () => void;
}

// xsnap's performance.now() is gettimeofday() in epoch milliseconds: it can step backwards.
const origin = performance.now();
let skipped = 0; // virtual milliseconds added by runNextTimer()
let latest = 0; // the largest monotonic() value handed out
let nextId = 1;
/** Pending timers by due time; equal due times keep insertion order (as on Node). */
const queue: Timer[] = [];

/** Milliseconds since start-up, virtual time included; never goes backwards. */
export function monotonic(): number {
  const value = performance.now() - origin + skipped;
  if (value > latest) latest = value;
  return latest;
}

/** Date.now() plus the virtual time that has passed, so wall-clock code agrees with monotonic(). */
export function wallClock(): number {
  return Date.now() + skipped;
}

export function setTimer(callback: () => void, ms: number): number {
  // Node's rule: a delay that is not a number in [1, 2^31 - 1] becomes 1 ms.
  const delay = ms >= 1 && ms <= 0x7fffffff ? ms : 1;
  const timer: Timer = { id: nextId++, due: monotonic() + delay, callback };
  // Insertion by hand: splice() would allocate the array of removed items (a device's Timer.set does not).
  let index = queue.length;
  queue.push(timer);
  while (index > 0 && queue[index - 1].due > timer.due) {
    queue[index] = queue[index - 1];
    index--;
  }
  queue[index] = timer;
  return timer.id;
}

export function clearTimer(id: unknown): void {
  for (let index = 0; index < queue.length; index++) {
    if (queue[index].id !== id) continue;
    for (let i = index + 1; i < queue.length; i++) queue[i - 1] = queue[i];
    queue.pop();
    return;
  }
}

export function pendingTimers(): number {
  return queue.length;
}

/**
 * Fires the earliest timer after moving the clock to its due time; false when none is pending.
 * An exception from the callback propagates to the caller.
 */
export function runNextTimer(): boolean {
  const timer = queue.shift();
  if (timer === undefined) return false;
  const now = monotonic();
  if (timer.due > now) {
    skipped += timer.due - now;
    latest = Math.max(latest, timer.due);
  }
  timer.callback();
  return true;
}
