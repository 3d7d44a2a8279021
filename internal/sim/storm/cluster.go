package storm

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// cluster is the server side of a storm: one node on the embedded
// default, or several nodes sharing the backends given in the Config
// behind a balancer, as an operator runs them when one machine is not
// enough. Every node is a real `camvault serve` process.
type cluster struct {
	nodes []*serverProc
	lb    *balancer // nil with one node

	rssPeak atomic.Int64 // of the sum over the nodes
}

// newCluster prepares (does not start) the nodes, each with its own data
// directory, log and loopback ports under dir.
func newCluster(cfg *Config, dir string) (*cluster, error) {
	env := cfg.serverEnv()
	if cfg.Nodes > 1 {
		// Every node must open the same homes' keys: one master key for
		// all, given the way an operator would, in the environment.
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		env = append(env, "CAMVAULT_MASTER_KEY="+base64.StdEncoding.EncodeToString(raw))
	}
	c := &cluster{}
	for i := range cfg.Nodes {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		admin, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		name := "server"
		if cfg.Nodes > 1 {
			name = fmt.Sprintf("node%d", i+1)
		}
		c.nodes = append(c.nodes, &serverProc{
			name: name, binary: cfg.Binary, env: env, addr: addr, adminAddr: admin,
			args:    cfg.serverArgs(filepath.Join(dir, name+"-data"), addr, admin),
			logPath: filepath.Join(dir, name+".log"),
		})
	}
	return c, nil
}

// start starts every node that is not running and waits until each is
// healthy; with several nodes, the balancer too.
func (c *cluster) start(ctx context.Context) error {
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			return err
		}
	}
	for _, n := range c.nodes {
		if err := n.waitHealthy(ctx, time.Minute); err != nil {
			return err
		}
	}
	if len(c.nodes) > 1 && c.lb == nil {
		addrs := make([]string, len(c.nodes))
		for i, n := range c.nodes {
			addrs[i] = n.addr
		}
		lb, err := startBalancer(addrs)
		if err != nil {
			return err
		}
		c.lb = lb
	}
	return nil
}

// addr is where clients reach the servers: the node, or the balancer.
func (c *cluster) addr() string {
	if c.lb != nil {
		return c.lb.addr()
	}
	return c.nodes[0].addr
}

// kill kills every node with SIGKILL, as a power cut would.
func (c *cluster) kill() error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.kill())
	}
	return errors.Join(errs...)
}

// stop stops every running node cleanly, and the balancer.
func (c *cluster) stop(grace time.Duration) error {
	var errs []error
	for _, n := range c.nodes {
		errs = append(errs, n.stop(grace))
	}
	return errors.Join(errs...)
}

// close stops the nodes and the balancer at the end of a run.
func (c *cluster) close(grace time.Duration) error {
	err := c.stop(grace)
	if c.lb != nil {
		c.lb.Close()
	}
	return err
}

// rss is the resident memory of the running nodes together, in bytes,
// and updates the peaks.
func (c *cluster) rss() int64 {
	var sum int64
	for _, n := range c.nodes {
		sum += n.rss()
	}
	storeMax(&c.rssPeak, sum)
	return sum
}

// logTails is the end of every node's log, for an error message.
func (c *cluster) logTails(lines int) string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "last lines of %s's log %s:\n%s\n", n.name, n.logPath, lastLines(n.logPath, lines))
	}
	return b.String()
}

// goMemory is what the Go runtime of the running nodes holds, summed, as
// their /metrics report it: it splits a connection's cost into heap and
// goroutine stacks, which RSS alone cannot.
type goMemory struct {
	HeapInuse, StackInuse, Goroutines int64
}

// goMemory reads every running node's /metrics.
func (c *cluster) goMemory(ctx context.Context) (goMemory, error) {
	var m goMemory
	client := &http.Client{Timeout: 5 * time.Second}
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.adminAddr+"/metrics", nil)
		if err != nil {
			return m, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		res, err := client.Do(req)
		if err != nil {
			return m, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
		res.Body.Close()
		if err != nil {
			return m, fmt.Errorf("%s metrics: %w", n.name, err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			name, value, ok := strings.Cut(line, " ")
			if !ok {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				continue
			}
			switch name {
			case "go_memstats_heap_inuse_bytes":
				m.HeapInuse += int64(v)
			case "go_memstats_stack_inuse_bytes":
				m.StackInuse += int64(v)
			case "go_goroutines":
				m.Goroutines += int64(v)
			}
		}
	}
	return m, nil
}
