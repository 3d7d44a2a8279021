package e2e

import (
	"context"
	"errors"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// run runs camvault with args and returns its output and exit status.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("camvault %v: %v", args, err)
	return "", 0
}

// TestUsageExitStatus: a command line that cannot be parsed exits 2, as
// Go tools and POSIX utilities do, and says what was wrong.
func TestUsageExitStatus(t *testing.T) {
	for _, args := range [][]string{
		{"camera", "--server", "http://127.0.0.1:1", "--pair", "ABC"},
		{"no-such-command"},
		{"serve", "--heartbeat", "soon"},
	} {
		out, code := run(t, args...)
		if code != 2 {
			t.Errorf("camvault %v exited %d, want 2:\n%s", args, code, out)
		}
		if !strings.Contains(out, "error:") {
			t.Errorf("camvault %v did not say what was wrong:\n%s", args, out)
		}
	}
	if out, code := run(t, "--help"); code != 0 || !strings.Contains(out, "Usage:") {
		t.Errorf("camvault --help exited %d:\n%s", code, out)
	}
}

// TestVersion: `camvault version` and `camvault --version` print the same
// text, from the build information `go version -m` reads out of the binary.
func TestVersion(t *testing.T) {
	out, code := run(t, "version")
	if code != 0 {
		t.Fatalf("camvault version exited %d:\n%s", code, out)
	}
	flag, code := run(t, "--version")
	if code != 0 || flag != out {
		t.Fatalf("camvault --version exited %d with\n%s\nwant\n%s", code, flag, out)
	}
	if !strings.HasPrefix(out, "camvault ") || !strings.Contains(out, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Fatalf("camvault version said:\n%s", out)
	}
	m, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	want := map[string]string{"vcs.revision": "commit   ", "vcs.time": "date     "}
	stamped := 0
	for line := range strings.Lines(string(m)) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/camvault/camvault":
			if !strings.Contains(out, "camvault "+strings.Trim(f[2], "()")+"\n") {
				t.Errorf("module version %s is not in:\n%s", f[2], out)
			}
		case len(f) == 2 && f[0] == "build":
			k, v, _ := strings.Cut(f[1], "=")
			if label, ok := want[k]; ok {
				stamped++
				if !strings.Contains(out, label+v) {
					t.Errorf("%s %s is not in:\n%s", k, v, out)
				}
			}
		}
	}
	if stamped == 0 && !strings.Contains(out, "commit   unknown") {
		t.Errorf("the binary has no commit stamped, but camvault version says:\n%s", out)
	}
}
