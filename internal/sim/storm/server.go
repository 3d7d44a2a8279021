package storm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// serverProc runs `camvault serve` as a child process, kills it and
// starts it again on the same data directory and ports.
type serverProc struct {
	name      string // "server", or "node1", "node2" ... in a cluster
	binary    string
	args      []string
	env       []string // added to this process's environment
	addr      string   // public listener
	adminAddr string   // health and metrics
	logPath   string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the current process has been waited for
	err    error         // how it exited

	rssPeak atomic.Int64 // bytes, over every process started
}

// freeLoopbackAddr returns a loopback address nobody listens on now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start starts the server process. Its output is appended to logPath.
func (s *serverProc) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		select {
		case <-s.exited:
		default:
			return errors.New("server: already running")
		}
	}
	out, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	fmt.Fprintf(out, "\n=== storm: starting %s %s at %s\n", s.binary, strings.Join(s.args, " "), time.Now().Format(time.RFC3339Nano))
	// Not CommandContext: the server must outlive a cancelled run long
	// enough to be stopped cleanly, and is killed only on purpose.
	cmd := exec.Command(s.binary, s.args...)
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start server %s: %w", s.binary, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.err = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		out.Close()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(exited)
	}()
	return nil
}

// current returns the running process and its exit channel.
func (s *serverProc) current() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd, s.exited
}

// waitHealthy waits until the admin listener answers /healthz with 200.
func (s *serverProc) waitHealthy(ctx context.Context, within time.Duration) error {
	_, exited := s.current()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.adminAddr+"/healthz", nil)
		if err != nil {
			return fmt.Errorf("server health: %w", err)
		}
		if res, err := client.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was healthy (%v); see %s", s.name, s.exitErr(), s.logPath)
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy within %v (see %s): %w", s.name, within, s.logPath, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// running reports whether the process is up.
func (s *serverProc) running() bool {
	cmd, exited := s.current()
	if cmd == nil {
		return false
	}
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

func (s *serverProc) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// kill ends the server with SIGKILL, as a crash would, and waits for it.
func (s *serverProc) kill() error {
	cmd, exited := s.current()
	if cmd == nil {
		return nil
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill server: %w", err)
	}
	<-exited
	return nil
}

// stop ends the server with SIGTERM, and SIGKILL if it takes longer than
// grace.
func (s *serverProc) stop(grace time.Duration) error {
	cmd, exited := s.current()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop server: %w", err)
	}
	select {
	case <-exited:
		if err := s.exitErr(); err != nil {
			return fmt.Errorf("server exited with %w; see %s", err, s.logPath)
		}
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		return fmt.Errorf("server did not stop within %v of SIGTERM; killed it", grace)
	}
}

// rss is the current process's resident set size in bytes (0 when it is
// not running), and updates the peak.
func (s *serverProc) rss() int64 {
	cmd, exited := s.current()
	if cmd == nil {
		return 0
	}
	select {
	case <-exited:
		return 0
	default:
	}
	v, err := readRSS(cmd.Process.Pid)
	if err != nil {
		return 0
	}
	storeMax(&s.rssPeak, v)
	return v
}

// storeMax raises a to v if v is larger, safely against other callers.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// readRSS reads VmRSS from /proc/<pid>/status, in bytes.
func readRSS(pid int) (int64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read rss: %w", err)
	}
	return parseVmRSS(raw)
}

func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("read rss: unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read rss: %w", err)
		}
		return kb * 1024, nil
	}
	return 0, errors.New("read rss: no VmRSS line")
}

// lastLines returns the last n lines of the file at path, for an error
// message.
func lastLines(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
