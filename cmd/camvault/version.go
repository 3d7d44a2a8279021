package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// versionCmd prints what versionText says.
type versionCmd struct{}

func (versionCmd) Run(c *cli) error {
	fmt.Println(c.version)
	return nil
}

// versionText says which camvault this is, from the build information the
// Go toolchain stamps into the binary: the module version, and the commit
// and its date when it was built from a git checkout (`go build` in a
// clone; not `go run`, a git worktree or -buildvcs=false).
func versionText() string {
	version, commit, date, modified := "unknown", "unknown", "unknown", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				date = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if modified {
		commit += " (with local changes)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "camvault %s\n", strings.Trim(version, "()"))
	fmt.Fprintf(&b, "commit   %s\n", commit)
	fmt.Fprintf(&b, "date     %s\n", date)
	fmt.Fprintf(&b, "go       %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
