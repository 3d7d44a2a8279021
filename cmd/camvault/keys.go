package main

import (
	"context"
	"os"

	"github.com/camvault/camvault/internal/server"
)

type keysCmd struct {
	Status keysStatusCmd `cmd:"" help:"For each master key generation: whether the key file holds it, and the stored values made under it."`
	Rotate keysRotateCmd `cmd:"" help:"Add a master key generation to the key file and rewrite the stored data under it; run again to finish one that stopped. Every server must be stopped."`
	Retire keysRetireCmd `cmd:"" help:"Take an old generation's key out of the key file once nothing needs it (its audit key stays if audit entries need it). Every server must be stopped."`
}

type keysStatusCmd struct{}

func (c *keysStatusCmd) Run(ctx context.Context, admin *adminCmd) error {
	o, err := admin.open(ctx)
	if err != nil {
		return err
	}
	defer o.Close()
	return o.KeyStatus(ctx, os.Stdout)
}

type keysRotateCmd struct{}

func (c *keysRotateCmd) Run(ctx context.Context, admin *adminCmd) error {
	return server.RotateKeys(ctx, admin.config(), server.KeyOptions{}, os.Stdout)
}

type keysRetireCmd struct {
	Generation uint32 `arg:"" help:"The generation to retire (camvault admin keys status lists them)."`
}

func (c *keysRetireCmd) Run(ctx context.Context, admin *adminCmd) error {
	return server.RetireKeys(ctx, admin.config(), c.Generation, os.Stdout)
}
