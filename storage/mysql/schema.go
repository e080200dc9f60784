package mysql

import (
	"context"

	"github.com/google/uuid"

	"github.com/knot-dev/knot/shared"
)

// Limits of the columns, checked before writing so that a value that does
// not fit is refused with a clear message.
const (
	maxID    = 512  // records.id, unique_keys.id, feed.id
	maxKey   = 1024 // unique_keys.ukey
	maxEpoch = 255  // meta.str, which holds the replica's epoch
)

// tables creates the schema. Every statement may run again, from any number
// of processes at once.
var tables = []string{
	`CREATE TABLE IF NOT EXISTS meta (
		name VARBINARY(32) NOT NULL,
		num BIGINT NOT NULL DEFAULT 0,
		str VARBINARY(255) NOT NULL DEFAULT '',
		PRIMARY KEY (name)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS records (
		kind VARBINARY(32) NOT NULL,
		id VARBINARY(512) NOT NULL,
		revision BIGINT NOT NULL,
		data LONGBLOB NOT NULL,
		PRIMARY KEY (kind, id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS unique_keys (
		kind VARBINARY(32) NOT NULL,
		ukey VARBINARY(1024) NOT NULL,
		id VARBINARY(512) NOT NULL,
		PRIMARY KEY (kind, ukey),
		KEY holder (kind, id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS feed (
		revision BIGINT NOT NULL,
		kind VARBINARY(32) NOT NULL,
		id VARBINARY(512) NOT NULL,
		deleted BOOLEAN NOT NULL,
		PRIMARY KEY (revision),
		UNIQUE KEY record (kind, id)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS audit (
		id BIGINT NOT NULL AUTO_INCREMENT,
		data LONGBLOB NOT NULL,
		PRIMARY KEY (id)
	) ENGINE=InnoDB`,
}

// init creates the tables and the rows of meta unless they exist, then
// checks the schema version and reads the epoch. When several processes
// open a new database at once, INSERT IGNORE lets the first epoch stand.
func (s *Store) init(ctx context.Context) error {
	for _, stmt := range tables {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return s.fail(err, "create the tables of %q", s.name)
		}
	}
	_, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO meta (name, num, str) VALUES
		('schema', ?, ''), ('epoch', 0, ?), ('revision', 0, ''), ('horizon', 0, ''), ('replica', 0, '')`,
		schemaVersion, uuid.NewString())
	if err != nil {
		return s.fail(err, "fill the meta table of %q", s.name)
	}
	var version int64
	err = s.db.QueryRowContext(ctx, "SELECT num FROM meta WHERE name = 'schema'").Scan(&version)
	if err != nil {
		return s.fail(err, "read the schema version of %q", s.name)
	}
	if version != schemaVersion {
		return shared.Errorf(shared.EINTERNAL, "mysql: the database %q has schema %d; this knot reads schema %d", s.name, version, schemaVersion)
	}
	err = s.db.QueryRowContext(ctx, "SELECT str FROM meta WHERE name = 'epoch'").Scan(&s.epoch)
	if err != nil {
		return s.fail(err, "read the epoch of %q", s.name)
	}
	if s.epoch == "" {
		return shared.Errorf(shared.EINTERNAL, "mysql: the database %q has an empty epoch", s.name)
	}
	return nil
}
