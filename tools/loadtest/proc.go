package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat. It
// is 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)).
const clockTicks = 100

// procStatus holds the memory figures of /proc/<pid>/status, in KiB.
type procStatus struct {
	RSS uint64 // VmRSS: resident set size now
	HWM uint64 // VmHWM: peak resident set size
}

// readProcStatus reads VmRSS and VmHWM of process pid.
func readProcStatus(pid int) (procStatus, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procStatus{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus extracts VmRSS and VmHWM ("VmRSS:\t  12345 kB") from the
// text of /proc/<pid>/status.
func parseProcStatus(b []byte) (procStatus, error) {
	var s procStatus
	found := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(name) {
		case "VmRSS":
			dst, found = &s.RSS, true
		case "VmHWM":
			dst = &s.HWM
		default:
			continue
		}
		value = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(value), []byte("kB")))
		v, err := strconv.ParseUint(string(value), 10, 64)
		if err != nil {
			return s, fmt.Errorf("loadtest: bad %s line in /proc status: %q", name, line)
		}
		*dst = v
	}
	if !found {
		return s, fmt.Errorf("loadtest: no VmRSS in /proc status (a kernel thread or a zombie?)")
	}
	return s, nil
}

// readProcsStatus reads the memory figures of every process in pids and sums them.
func readProcsStatus(pids []int) (procStatus, error) {
	var sum procStatus
	for _, pid := range pids {
		s, err := readProcStatus(pid)
		if err != nil {
			return sum, err
		}
		sum.RSS += s.RSS
		sum.HWM += s.HWM
	}
	return sum, nil
}

// readProcsCPU returns the CPU time every process in pids has used, summed, in seconds.
func readProcsCPU(pids []int) (float64, error) {
	var sum float64
	for _, pid := range pids {
		c, err := readProcCPU(pid)
		if err != nil {
			return sum, err
		}
		sum += c
	}
	return sum, nil
}

// readProcCPU returns the CPU time (user + system) process pid has used, in seconds.
func readProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(b)
}

// parseProcStatCPU extracts utime+stime (fields 14 and 15, proc(5)) from the
// text of /proc/<pid>/stat, in seconds. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func parseProcStatCPU(b []byte) (float64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("loadtest: malformed /proc stat")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, fmt.Errorf("loadtest: short /proc stat")
	}
	ut, err1 := strconv.ParseUint(string(fields[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(fields[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("loadtest: malformed utime/stime in /proc stat")
	}
	return float64(ut+st) / clockTicks, nil
}

// selfCPU returns the CPU time this process has used, in seconds.
func selfCPU() float64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// selfMaxRSS returns this process's peak resident set size in KiB.
func selfMaxRSS() uint64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return uint64(ru.Maxrss)
}

// fdReserve is how many descriptors the tool keeps for itself beyond one per
// client: epoll instances, HTTP clients, /proc reads, output files.
const fdReserve = 64

// raiseNoFile lifts RLIMIT_NOFILE to its hard limit and checks that need
// client sockets fit. It returns the limit in force.
func raiseNoFile(need int) (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			return 0, err
		}
	}
	if uint64(need)+fdReserve > lim.Cur {
		return lim.Cur, fmt.Errorf("%w: --connections %d needs %d file descriptors and this process may open %d (RLIMIT_NOFILE hard limit); run several loadtest processes or raise the hard limit",
			ErrTooManyFiles, need, need+fdReserve, lim.Cur)
	}
	return lim.Cur, nil
}

// readMachineCPU returns the CPU time every core of the machine has spent
// busy (user, nice, system, irq, softirq; guest time is inside user), in
// seconds, from the first line of /proc/stat.
func readMachineCPU() (float64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineCPU(b)
}

// parseMachineCPU reads the "cpu " line of /proc/stat (proc(5): user nice
// system idle iowait irq softirq steal ..., in USER_HZ).
func parseMachineCPU(b []byte) (float64, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 8 || string(f[0]) != "cpu" {
		return 0, fmt.Errorf("loadtest: /proc/stat does not start with the cpu line: %q", line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7} {
		v, err := strconv.ParseUint(string(f[i]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("loadtest: malformed /proc/stat cpu line: %q", line)
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}
