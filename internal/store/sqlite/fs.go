package sqlite

import (
	"io/fs"
)

// mustSub is fs.Sub for an embedded directory known to exist.
func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic("embedded migrations: " + err.Error())
	}
	return sub
}
