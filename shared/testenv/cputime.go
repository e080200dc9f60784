package testenv

import (
	"syscall"
	"time"
)

// CPUTime returns the CPU time (user and system) the test process has used
// so far, for benchmarks that report the CPU a path costs beside its wall
// time: on a machine other work loads, the CPU is what a path costs and the
// wall time depends on what the scheduler gave. 0 where it cannot be read.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
