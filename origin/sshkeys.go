package origin

import (
	"cmp"
	"context"
	"strings"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/sshkey"
	"github.com/knot-dev/knot/storage"
)

// AddSSHKey implements shared.UserService.
func (s *UserService) AddSSHKey(ctx context.Context, id, name, key string) (*shared.User, *shared.SSHKey, error) {
	k, err := sshkey.Parse(key)
	if err != nil {
		return nil, nil, invalid("key: %v", err)
	}
	name = strings.TrimSpace(cmp.Or(strings.TrimSpace(name), k.Comment, k.Fingerprint))
	if err := shared.CheckText("name", name, 256); err != nil {
		return nil, nil, err
	}
	added := &shared.SSHKey{ID: newID(), Name: name, Key: k.Line, Fingerprint: k.Fingerprint, AddedAt: s.opts.now().UTC()}
	u, err := s.changeSSHKeys(ctx, id, func(u *shared.User) error {
		for _, have := range u.SSHKeys {
			if have.Fingerprint == k.Fingerprint {
				return shared.Errorf(shared.ECONFLICT, "user %s already has the key %s (%s)", quote(u.Username), k.Fingerprint, quote(have.Name))
			}
		}
		if len(u.SSHKeys) >= sshkey.MaxKeys {
			return invalid("user %s has %d SSH keys, the most there may be: remove one first", quote(u.Username), sshkey.MaxKeys)
		}
		u.SSHKeys = append(u.SSHKeys, *added)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.opts.record(ctx, "SSH Key Add", "SSH key "+added.Fingerprint+" added to user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": added.ID, "fingerprint": added.Fingerprint})
	return u, added, nil
}

// RemoveSSHKey implements shared.UserService.
func (s *UserService) RemoveSSHKey(ctx context.Context, id, keyID string) (*shared.User, *shared.SSHKey, error) {
	var gone shared.SSHKey
	u, err := s.changeSSHKeys(ctx, id, func(u *shared.User) error {
		for i, k := range u.SSHKeys {
			if k.ID == keyID || k.Fingerprint == keyID {
				gone = k
				u.SSHKeys = append(u.SSHKeys[:i:i], u.SSHKeys[i+1:]...)
				return nil
			}
		}
		for _, l := range sshkey.Lines(u.SSHPublicKey) {
			if l.Err == nil && l.Key.Fingerprint == keyID {
				return shared.Errorf(shared.ENOTFOUND, "user %s has the SSH key %s in the older ssh_public_key field of their profile, not in their key list: take its line %d out of that field to remove it", quote(u.Username), keyID, l.N)
			}
		}
		return shared.Errorf(shared.ENOTFOUND, "user %s has no SSH key %s", quote(u.Username), quote(keyID))
	})
	if err != nil {
		return nil, nil, err
	}
	s.opts.record(ctx, "SSH Key Remove", "SSH key "+gone.Fingerprint+" removed from user "+u.Username,
		map[string]string{"updated_user_id": u.ID, "key_id": gone.ID, "fingerprint": gone.Fingerprint})
	return u, &gone, nil
}

// changeSSHKeys applies edit to the keys of the user with id in one
// transaction, as the grant rules let the actor (who may change the
// account of a user holding no more than they do).
func (s *UserService) changeSSHKeys(ctx context.Context, id string, edit func(*shared.User) error) (*shared.User, error) {
	a, err := shared.UserAccess(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	var out *shared.User
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		cur, err := get[shared.User](ctx, tx, id, userNotFound(id))
		if err != nil {
			return err
		}
		u := *cur
		u.SSHKeys = append([]shared.SSHKey(nil), cur.SSHKeys...)
		if err := edit(&u); err != nil {
			return err
		}
		u.UpdatedAt = s.opts.now().UTC()
		if err := JudgeChange(ctx, a, Change{UserBefore: cur, UserAfter: &u}, RoleOf(tx)); err != nil {
			return err
		}
		out = &u
		return tx.Put(ctx, &u)
	})
	return out, err
}
