import { readFileSync } from "node:fs";

/** The p-th percentile of ascending samples (nearest rank). */
export const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** A process's resident set, in MB, as Linux reports it. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Linux's clock ticks per second (USER_HZ), in which /proc reports CPU time. */
const CLOCK_TICKS = 100;

/** CPU seconds a process has used so far (user and system), from /proc. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * The whole machine's CPU seconds so far, from /proc/stat: busy (user, system, interrupts) and
 * stolen by the hypervisor, summed over every core, and how many cores there are.
 */
export function machineCpu(): { busy: number; steal: number; cores: number } {
  const lines = readFileSync("/proc/stat", "utf8").split("\n");
  // user nice system idle iowait irq softirq steal
  const total = lines[0]!.split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = total as [number, ...number[]];
  return {
    busy: (user + nice! + system! + irq! + softirq!) / CLOCK_TICKS,
    steal: steal! / CLOCK_TICKS,
    cores: lines.filter((line) => /^cpu\d/.test(line)).length,
  };
}
