package main

import (
	"os"
	"testing"
)

func TestParseProcStatus(t *testing.T) {
	in := "Name:\tsioloop\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   49876 kB\nThreads:\t5\n"
	s, err := parseProcStatus([]byte(in))
	if err != nil || s.RSS != 49876 || s.HWM != 51234 {
		t.Fatalf("parseProcStatus = %+v %v, want RSS 49876 HWM 51234", s, err)
	}
	if _, err := parseProcStatus([]byte("Name:\tkthreadd\nThreads:\t1\n")); err == nil {
		t.Fatal("no VmRSS: want an error")
	}
	if _, err := parseProcStatus([]byte("VmRSS:\t lots kB\n")); err == nil {
		t.Fatal("bad VmRSS: want an error")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// The command name may contain spaces and parentheses.
	in := "1234 (node (peer) x) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 11 0 100 1000000 5000 18446744073709551615\n"
	v, err := parseProcStatCPU([]byte(in))
	if err != nil || v != 3.25 {
		t.Fatalf("parseProcStatCPU = %g %v, want 3.25 s (325 ticks)", v, err)
	}
	if _, err := parseProcStatCPU([]byte("1234 (x) S 1 2")); err == nil {
		t.Fatal("short stat: want an error")
	}
}

func TestReadSelf(t *testing.T) {
	// The functions work on a live process: this one.
	s, err := readProcStatus(os.Getpid())
	if err != nil || s.RSS == 0 || s.HWM < s.RSS {
		t.Fatalf("readProcStatus(self) = %+v %v", s, err)
	}
	if _, err := readProcCPU(os.Getpid()); err != nil {
		t.Fatalf("readProcCPU(self): %v", err)
	}
	if selfMaxRSS() == 0 {
		t.Fatal("selfMaxRSS = 0")
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseMachineCPU([]byte("cpu  100 20 300 9000 50 6 7 8 0 0\ncpu0 50 10 150 4500 25 3 3 4 0 0\n"))
	if err != nil || got != float64(100+20+300+6+7)/clockTicks {
		t.Errorf("busy %v (%v), want %v", got, err, float64(433)/clockTicks)
	}
	if _, err := parseMachineCPU([]byte("intr 1 2 3\n")); err == nil {
		t.Error("a /proc/stat without the cpu line accepted")
	}
	if c, err := readMachineCPU(); err != nil || c <= 0 {
		t.Errorf("this machine: %v, %v", c, err)
	}
}
