package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestClimbInterleaved(t *testing.T) {
	// Three servers, four rates. b fails at 20k (both tries) and stops
	// there; c's first try at 10k fails (a stall) and its retry, after the
	// others, passes; a passes everything.
	names := []string{"a", "b", "c"}
	tries := map[string]int{}
	var ran []string
	steps, best, rounds := climbInterleaved(3, []float64{5000, 10000, 20000, 30000}, 2, 100, 10*time.Millisecond, names,
		func(i int, rate float64) (LadderStep, bool) {
			key := fmt.Sprintf("%s@%g", names[i], rate)
			tries[key]++
			ran = append(ran, key)
			p99 := 1.0
			if (names[i] == "b" && rate >= 20000) || (key == "c@10000" && tries[key] == 1) {
				p99 = 50
			}
			return LadderStep{Rate: rate, Clients: 100, SentPerSec: rate, P99: p99}, false
		})
	want := []LadderRound{
		{5000, []string{"a", "b", "c"}},
		{10000, []string{"b", "c", "a", "c"}}, // rotated by one; c's retry last
		{20000, []string{"c", "a", "b", "b"}},
		{30000, []string{"a", "c"}}, // b has stopped; the rotation goes on
	}
	if !reflect.DeepEqual(rounds, want) {
		t.Errorf("rounds %v, want %v", rounds, want)
	}
	if !reflect.DeepEqual(best, []float64{30000, 10000, 30000}) {
		t.Errorf("best %v", best)
	}
	if len(steps[1]) != 3 || steps[1][2].Pass || steps[1][2].Tries != 2 || steps[2][1].Tries != 2 || !steps[2][1].Pass || len(steps[0]) != 4 {
		t.Errorf("steps %+v", steps)
	}
	if tries["b@30000"] != 0 {
		t.Errorf("b climbed past its failed step: %v", ran)
	}

	// stop (an interrupt or an error) ends the climb at once.
	steps, _, rounds = climbInterleaved(2, []float64{5000, 10000}, 1, 100, 10*time.Millisecond, names,
		func(i int, rate float64) (LadderStep, bool) {
			return LadderStep{Rate: rate, Clients: 100, SentPerSec: rate, P99: 1}, rate > 5000 && i == 0
		})
	if len(steps[0]) != 1 || len(steps[1]) != 1 || len(rounds) != 2 || !reflect.DeepEqual(rounds[1].Order, []string{"b"}) {
		t.Errorf("stopped climb: steps %+v rounds %+v", steps, rounds)
	}
}

func TestInterleaveFlags(t *testing.T) {
	two := "http://127.0.0.1:1,http://127.0.0.1:2"
	parse := func(args ...string) Config {
		t.Helper()
		c, err := ParseFlags(append([]string{"--scenario", "echo-ladder"}, args...), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfgs, names, err := interleaveTargets(parse("--interleave", "--server", two, "--pid", "11,22", "--names", "x, y"))
	if err != nil || len(cfgs) != 2 || cfgs[1].Server != "http://127.0.0.1:2" || cfgs[1].PIDs[0] != 22 || names[1] != "y" || cfgs[0].Interleave {
		t.Errorf("targets %+v names %v err %v", cfgs, names, err)
	}
	if _, names, _ := interleaveTargets(parse("--interleave", "--server", two)); names[0] != "http://127.0.0.1:1" {
		t.Errorf("default names %v, want the URLs", names)
	}
	for _, bad := range [][]string{
		{"--interleave", "--server", "http://127.0.0.1:1"},
		{"--interleave", "--server", two, "--pid", "11"},
		{"--interleave", "--server", two, "--names", "x"},
		{"--interleave", "--server", two, "--names", "x,"},
	} {
		if _, _, err := interleaveTargets(parse(bad...)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := resolved(t, "--interleave", "--server", two); err == nil || !strings.Contains(err.Error(), "--interleave") {
		t.Errorf("--interleave outside the echo ladder: %v", err)
	}
	if _, err := resolved(t, "--scenario", "echo-ladder", "--names", "x", "--server", two); err == nil {
		t.Error("--names without --interleave accepted")
	}
}

// TestEndToEndInterleaved climbs two low steps on two real servers at once,
// interleaved: both pass both, in rotated order, each with its own CPU.
func TestEndToEndInterleaved(t *testing.T) {
	if os.Getenv("LOADTEST_E2E") == "off" {
		t.Skip("LOADTEST_E2E=off")
	}
	if testing.Short() {
		t.Skip("-short")
	}
	a, b := startServer(t), startServer(t)
	cfg, err := ParseFlags([]string{"--scenario", "echo-ladder", "--interleave", "--names", "a,b",
		"--server", "http://127.0.0.1:" + strconv.Itoa(a.port) + ",http://127.0.0.1:" + strconv.Itoa(b.port),
		"--pid", strconv.Itoa(a.pid) + "," + strconv.Itoa(b.pid),
		"--quiet", "--grace", "3s", "--connections", "50",
		"--ladder", "200,500", "--step", "1500ms", "--warmup", "500ms", "--ladder-p99", "250ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	res, err := RunInterleaved(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("RunInterleaved: %v", err)
	}
	var out bytes.Buffer
	res.PrintSummary(&out)
	if !res.Pass || len(res.Servers) != 2 || len(res.Rounds) != 2 {
		t.Fatalf("interleaved ladder did not climb:\n%s", out.String())
	}
	if !reflect.DeepEqual(res.Rounds[0].Order, []string{"a", "b"}) || !reflect.DeepEqual(res.Rounds[1].Order, []string{"b", "a"}) {
		t.Errorf("rounds %+v, want a,b then b,a", res.Rounds)
	}
	for i, l := range res.Servers {
		if l.Best != 500 || l.Warmup == nil || len(l.Steps) != 2 || l.PID != []int{a.pid, b.pid}[i] {
			t.Errorf("server %s: best %g, %d steps, pid %d", l.Name, l.Best, len(l.Steps), l.PID)
		}
		for _, s := range l.Steps {
			if s.Clients != 50 || s.Lost != 0 || s.ServerCPU <= 0 || s.ServerUSPerMsg <= 0 || s.OtherCPUPct < 0 {
				t.Errorf("server %s, step %+v", l.Name, s)
			}
		}
	}
	if !strings.Contains(out.String(), "best a") || !strings.Contains(res.HTML(), "<svg") {
		t.Errorf("summary or report incomplete:\n%s", out.String())
	}
}
