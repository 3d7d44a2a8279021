// Command gostatic is the thumbnail benchmark's floor for a Go server: Go's
// net/http serving the same JPEGs from memory, with no checks at all
// (loaded from a directory at start, answered as /t/NAME with
// Content-Length and one write). Whatever camvault does per view beyond
// this, it does on top of what any Go HTTP server costs on the same
// machine; nginx, with sendfile and no garbage collector, is below it. It
// is a benchmark tool, not part of camvault.
//
//	gostatic --addr 127.0.0.1:28196 --dir WORK/www/t
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:28196", "listen address")
	dir := flag.String("dir", "", "directory of the files to serve, each as /t/NAME")
	flag.Parse()
	files := map[string][]byte{}
	entries, err := os.ReadDir(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gostatic:", err)
		os.Exit(1)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(*dir, e.Name()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "gostatic:", err)
			os.Exit(1)
		}
		files["/t/"+e.Name()] = b
	}
	srv := &http.Server{Addr: *addr, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok || !strings.HasPrefix(r.URL.Path, "/t/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "image/jpeg")
		h.Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, "gostatic:", err)
		os.Exit(1)
	}
}
