package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// deleteUserRecords deletes the user with id, their API tokens and their
// sessions in one store transaction: all of them or, on any error, none.
// A user already gone is no error; their tokens and sessions still go.
func (s *Server) deleteUserRecords(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx storage.Tx) error {
		tokens, err := storage.ListWhere(ctx, tx, func(t *shared.Token) bool { return t.UserID == id })
		if err != nil {
			return err
		}
		for _, t := range tokens {
			if err := tx.Delete(ctx, shared.KindToken, t.ID); err != nil {
				return err
			}
		}
		sessions, err := storage.ListWhere(ctx, tx, func(se *shared.Session) bool { return se.UserID == id })
		if err != nil {
			return err
		}
		for _, se := range sessions {
			if err := tx.Delete(ctx, shared.KindSession, se.ID); err != nil {
				return err
			}
		}
		if err := tx.Delete(ctx, shared.KindUser, id); err != nil && !isCode(err, shared.ENOTFOUND) {
			return err
		}
		return nil
	})
}
