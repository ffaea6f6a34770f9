/**
 * One CPU for every timed process of a side-by-side comparison (bench/peers.ts). The VMs these
 * benchmarks run on have CPUs of different speeds: on the 2-vCPU CI machine, XS and MicroPython both run
 * ~1.4–1.7× slower on CPU 0 than on CPU 1, steadily, so an unpinned process's time depends on where the
 * scheduler put it, and two frameworks timed in different processes can differ by that much with no
 * change in either. Node script (taskset, /proc).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface BenchCpus {
  /** Where the timed processes run (the servers, the in-process loops). */
  timed: number;
  /** Where a load generator runs (wrk), when there is another CPU. */
  client: number | undefined;
}

/**
 * Pins this process and what it starts from now on (children inherit the mask) to one CPU:
 * $XSDOT_BENCH_CPU, else the last (CPU 0 takes most interrupts). Returns the CPUs, or why not
 * (`XSDOT_BENCH_CPU=none`, one CPU, no taskset).
 */
export function pinBenchCpu(): BenchCpus | string {
  const chosen = process.env.XSDOT_BENCH_CPU;
  if (chosen === 'none') return 'XSDOT_BENCH_CPU=none';
  const count = availableParallelism();
  if (count < 2 && chosen === undefined) return 'one CPU';
  const timed = chosen === undefined ? count - 1 : Number(chosen);
  if (!Number.isInteger(timed) || timed < 0) throw new Error(`XSDOT_BENCH_CPU must be a CPU number or none, not ${chosen}`);
  const run = spawnSync('taskset', ['-a', '-c', '-p', String(timed), String(process.pid)], { encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) return `taskset failed: ${(run.error?.message ?? run.stderr).trim()}`;
  return { timed, client: count > 1 ? (timed === 0 ? 1 : 0) : undefined };
}

/** `command args` to run on `cpu` (taskset), or as they are when `cpu` is undefined. */
export function onCpu(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}
