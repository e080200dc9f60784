package web

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/storage"
)

// errFirstUserTaken answers a setup that another one beat.
var errFirstUserTaken = shared.Errorf(shared.ECONFLICT, "another first user was created at the same time: log in as that user instead")

// putFirstUser writes u if store holds no user yet, in one transaction:
// of several setups at once, on one server or on several sharing one
// database, exactly one writes its user; the others fail with ECONFLICT.
func putFirstUser(ctx context.Context, store storage.Store, u *shared.User) error {
	var taken bool
	err := store.Update(ctx, func(tx storage.Tx) error {
		users, err := tx.List(ctx, shared.KindUser)
		if err != nil {
			return err
		}
		if taken = len(users) > 0; taken {
			return errFirstUserTaken
		}
		return tx.Put(ctx, u)
	})
	if taken {
		return errFirstUserTaken
	}
	return err
}
