package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"

	"github.com/camvault/camvault/internal/gateway"
)

// BenchmarkIdleConnection measures what an idle camera connection costs
// the server: N cameras (CAMVAULT_IDLE_CAMERAS, default 2000) connect from
// another process (this test binary, as TestIdleCameraProcess), read their
// hello and stay silent; the server's RSS, Go heap in use, goroutine
// stacks and goroutines are taken after a garbage collection, with none
// connected and with all of them, and the difference is divided by N.
// Both ways of serving cameras, one after the other in the same run:
//
//	go test -run '^$' -bench IdleConnection -benchtime 1x ./internal/gateway/
//
// With CAMVAULT_IDLE_HEAP_PROFILE=FILE the heap with every camera
// connected is written to FILE.netpoll and FILE.std.
func BenchmarkIdleConnection(b *testing.B) {
	cameras := 2000
	if s := os.Getenv("CAMVAULT_IDLE_CAMERAS"); s != "" {
		var err error
		if cameras, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range modes {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				cfg := gateway.DefaultConfig()
				cfg.CameraWS = mode
				s := serve(b, cfg, cameras+1, nil)
				// One camera first, so that what the first connection
				// starts once (the poller) is in the baseline.
				first := rawCamera(b, s.addr, s.devs[cameras].ID)
				waitFor(b, func() bool { return s.gw.Connected() == 1 })
				before := memory()

				cmd := exec.Command(os.Args[0], "-test.run=^TestIdleCameraProcess$")
				cmd.Env = append(os.Environ(), "CAMVAULT_IDLE_SERVER="+s.addr)
				cmd.Stderr = os.Stderr
				in, err := cmd.StdinPipe()
				if err != nil {
					b.Fatal(err)
				}
				out, err := cmd.StdoutPipe()
				if err != nil {
					b.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				for _, d := range s.devs[:cameras] {
					fmt.Fprintln(in, d.ID)
				}
				fmt.Fprintln(in) // the end of the list
				lines := bufio.NewScanner(out)
				for lines.Scan() && lines.Text() != "ready" {
				}
				waitFor(b, func() bool { return s.gw.Connected() == cameras+1 })
				after := memory()
				if path := os.Getenv("CAMVAULT_IDLE_HEAP_PROFILE"); path != "" {
					writeHeapProfile(b, path+"."+mode)
				}
				first.Close()
				in.Close() // the cameras go
				_, _ = io.Copy(io.Discard, out)
				if err := cmd.Wait(); err != nil {
					b.Fatal(err)
				}
				n := float64(cameras)
				b.ReportMetric(float64(after.rss-before.rss)/n, "rss-B/conn")
				b.ReportMetric(float64(after.heap-before.heap)/n, "heap-B/conn")
				b.ReportMetric(float64(after.stack-before.stack)/n, "stack-B/conn")
				b.ReportMetric(float64(after.goroutines-before.goroutines)/n, "goroutines/conn")
			}
		})
	}
}

// writeHeapProfile writes what is in use on the heap now to path (go tool
// pprof -sample_index=inuse_space).
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

type mem struct{ rss, heap, stack, goroutines int64 }

// memory is the process's memory after garbage collections that also
// returned what they freed to the system (two first: what sync.Pools held
// survives one).
func memory() mem {
	settledGoroutines()
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := mem{heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse), goroutines: int64(runtime.NumGoroutine())}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			pages, _ := strconv.ParseInt(f[1], 10, 64)
			m.rss = pages * int64(os.Getpagesize())
		}
	}
	return m
}

// TestIdleCameraProcess is the cameras of BenchmarkIdleConnection, in a
// process of their own: it connects one camera for each device ID read
// from standard input (up to an empty line) to CAMVAULT_IDLE_SERVER, says
// "ready", and holds the connections until its input ends.
func TestIdleCameraProcess(t *testing.T) {
	addr := os.Getenv("CAMVAULT_IDLE_SERVER")
	if addr == "" {
		t.Skip("run by BenchmarkIdleConnection")
	}
	in := bufio.NewScanner(os.Stdin)
	var held []io.Closer
	for in.Scan() && in.Text() != "" {
		held = append(held, rawCamera(t, addr, in.Text()))
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		c.Close()
	}
}
