package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/camvault/camvault/internal/sim/demo"
)

type demoCmd struct {
	Data          string        `help:"Data directory (default: a fresh temporary one, removed when the demo stops)." env:"CAMVAULT_DATA"`
	Addr          string        `help:"Public listener (default: 127.0.0.1:8080, or a free port when that one is taken)." env:"CAMVAULT_ADDR" placeholder:"HOST:PORT"`
	AdminAddr     string        `help:"Admin listener for health and metrics (default: 127.0.0.1:8081, or a free port when that one is taken)." env:"CAMVAULT_ADMIN_ADDR" placeholder:"HOST:PORT"`
	Cameras       int           `help:"Simulated cameras." default:"3" env:"CAMVAULT_DEMO_CAMERAS"`
	EventInterval time.Duration `help:"About how often each camera sends a motion event." default:"20s" env:"CAMVAULT_DEMO_EVENT_INTERVAL"`
}

func (c *demoCmd) Run(ctx context.Context, cli *cli) error {
	// The demo's own text is what a newcomer reads: keep routine request
	// logs out of it unless asked for.
	level := max(cli.LogLevel, slog.LevelWarn)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return demo.Run(ctx, demo.Config{Data: c.Data, Addr: c.Addr, AdminAddr: c.AdminAddr, Cameras: c.Cameras,
		EventInterval: c.EventInterval, Out: os.Stdout, Log: log})
}
