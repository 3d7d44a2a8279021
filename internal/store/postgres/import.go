package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Moving an installation from the embedded default onto PostgreSQL (camvault
// admin migrate): the tables and columns are those of SQLite, so the
// records are copied row by row, as they are. Sealed fields stay sealed
// under the same keys; nothing is opened on the way.

// RowSource gives a table's column names, then its rows (values as
// database/sql gives them from SQLite: int64, float64, string, []byte or
// nil).
type RowSource interface {
	Rows(ctx context.Context, table string, columns func([]string) error, fn func([]any) error) error
}

// importBatch is how many rows go to the server in one COPY.
const importBatch = 5000

// Import copies every row of each table of src, in the order given
// (tables referred to first), in one transaction: the records arrive
// whole or not at all. Each table's columns must be this schema's; a flag
// stored as an integer in SQLite becomes a boolean here.
func (s *Store) Import(ctx context.Context, tables []string, src RowSource) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, table := range tables {
			if err := importTable(ctx, tx, table, src); err != nil {
				return fmt.Errorf("copy table %s: %w", table, err)
			}
		}
		return nil
	})
}

func importTable(ctx context.Context, tx pgx.Tx, table string, src RowSource) error {
	types, err := columnTypes(ctx, tx, table)
	if err != nil {
		return err
	}
	var cols []string
	var batch [][]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(batch))
		if err != nil {
			return err
		}
		if int(n) != len(batch) {
			return fmt.Errorf("copied %d rows of %d", n, len(batch))
		}
		batch = batch[:0]
		return nil
	}
	columns := func(c []string) error {
		have := slices.Sorted(maps.Keys(types))
		if got := slices.Sorted(slices.Values(c)); !slices.Equal(got, have) {
			return fmt.Errorf("columns differ: the source has %s, PostgreSQL %s (are both at the same schema version?)",
				strings.Join(got, ", "), strings.Join(have, ", "))
		}
		cols = c
		return nil
	}
	row := func(vals []any) error {
		for i, v := range vals {
			if types[cols[i]] == "boolean" {
				n, ok := v.(int64)
				if !ok {
					return fmt.Errorf("column %s: a flag that is not an integer (%T)", cols[i], v)
				}
				vals[i] = n != 0
			}
		}
		batch = append(batch, vals)
		if len(batch) >= importBatch {
			return flush()
		}
		return nil
	}
	if err := src.Rows(ctx, table, columns, row); err != nil {
		return err
	}
	return flush()
}

// columnTypes maps each column of table, in the current schema, to its
// data type as information_schema names it.
func columnTypes(ctx context.Context, tx pgx.Tx, table string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, table)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		out[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no table %s in PostgreSQL", table)
	}
	return out, nil
}

// Count returns the number of rows in table, one of those Import copies.
func (s *Store) Count(ctx context.Context, table string) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&n)
	return n, wrap("count "+table, err)
}
