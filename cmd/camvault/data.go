package main

import (
	"context"
	"os"

	"github.com/camvault/camvault/internal/server"
)

// The commands that copy an installation's data: a backup beside the
// running server, a restore into an empty data directory, and a migration
// onto the scale-out backends.

type backupCmd struct {
	To string `help:"A new or empty directory for the backup, outside the data directory." required:"" placeholder:"DIR"`
}

func (c *backupCmd) Run(ctx context.Context, admin *adminCmd) error {
	_, err := server.Backup(ctx, admin.config(), c.To, os.Stdout)
	return err
}

type restoreCmd struct {
	From string `help:"A backup directory made by admin backup." required:"" placeholder:"DIR"`
}

func (c *restoreCmd) Run(ctx context.Context, admin *adminCmd) error {
	_, err := server.Restore(ctx, admin.config(), c.From, os.Stdout)
	return err
}
