package leaf

import (
	"context"

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/api"
	"github.com/knot-dev/knot/shared/client"
	"github.com/knot-dev/knot/storage"
)

// UserOptions configures what a leaf's user service needs beyond
// ServiceOptions: the quota of a user counts the spaces of the leaf's own
// location in its replica and the others as the origin reports them.
type UserOptions struct {
	// Location is the leaf's location.
	Location string
	// FarUsage returns what the spaces of a user at other locations use,
	// as the origin reports it; nil, or an error, counts every space of
	// the replica instead.
	FarUsage func(ctx context.Context, userID string) (api.LeafUsage, error)
	// Log, when set, is told why the quota counts the replica alone.
	Log func(ctx context.Context, userID string, err error)
	// Records returns every space, user and template of the replica,
	// decoded and kept while it does not change (the space service's
	// snapshot), for List to count spaces from; nil reads the replica each
	// time.
	Records func(ctx context.Context) (*shared.SpaceList, error)
}

// UserService is a leaf's shared.UserService (see services.go).
type UserService struct {
	opts   ServiceOptions
	uo     UserOptions
	orders shared.Orders[shared.UserListing]
}

var _ shared.UserService = (*UserService)(nil)

// NewUserService returns the user service of a leaf.
func NewUserService(opts ServiceOptions, uo UserOptions) *UserService {
	return &UserService{opts: opts, uo: uo}
}

// List implements shared.UserService from the replica.
func (s *UserService) List(ctx context.Context, o shared.ListOptions) (shared.Page[shared.UserListing], error) {
	if err := shared.UserListAccess(ctx); err != nil {
		return shared.Page[shared.UserListing]{}, err
	}
	if s.uo.Records != nil {
		v, err := s.uo.Records(ctx)
		return shared.SelectUserListings(v, err, o, &s.orders)
	}
	return shared.SelectList(storage.ListUsers(ctx, s.opts.Store, o.State))(o, shared.SelectUsers)
}

// Get implements shared.UserService from the replica.
func (s *UserService) Get(ctx context.Context, id string) (*shared.User, error) {
	if _, err := shared.UserAccess(ctx, id); err != nil {
		return nil, err
	}
	return get[shared.User](ctx, s.opts.Store, id)
}

// Quota implements shared.UserService: the spaces of this location from
// the replica, the others' as the origin reports them while it can be
// asked, else every space of the replica.
func (s *UserService) Quota(ctx context.Context, id string) (shared.Quota, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return shared.Quota{}, err
	}
	var scope storage.QuotaScope
	if s.uo.FarUsage != nil {
		far, err := s.uo.FarUsage(ctx, u.ID)
		if err == nil {
			scope = storage.QuotaScope{Keep: func(sp *shared.Space) bool { return sp.Location == s.uo.Location }, Far: shared.Usage(far)}
		} else if s.uo.Log != nil {
			s.uo.Log(ctx, u.ID, err)
		}
	}
	return storage.QuotaOf(ctx, s.opts.Store, u, scope)
}

// NeedsSetup implements shared.UserService from the replica.
func (s *UserService) NeedsSetup(ctx context.Context) (bool, error) {
	users, err := s.opts.Store.List(ctx, shared.KindUser)
	return len(users) == 0, err
}

// Setup implements shared.UserService at the origin, which creates the
// first user while it has none and answers EUNAUTHORIZED once it has one.
// It presents no credential there.
func (s *UserService) Setup(ctx context.Context, nu shared.NewUser) (*shared.User, error) {
	if s.opts.Origin == nil {
		return nil, shared.Errorf(shared.EUNAVAILABLE, "the first user is created at the origin: set up knot there")
	}
	if err := s.opts.Origin.Down(); err != nil {
		return nil, err
	}
	id, err := send(ctx, s.opts.Origin, "", func(ctx context.Context, c *client.Client) (string, error) {
		return c.Users().Create(ctx, createRequest(nu))
	})
	if err != nil {
		return nil, err
	}
	return &shared.User{Meta: shared.Meta{ID: id}, Username: nu.Username, Email: nu.Email, Active: true}, nil
}

// Create implements shared.UserService at the origin.
func (s *UserService) Create(ctx context.Context, nu shared.NewUser) (*shared.User, error) {
	req := createRequest(nu)
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.User, error) {
		id, err := c.Users().Create(ctx, req)
		if err != nil {
			return nil, err
		}
		return c.Users().Get(ctx, id)
	})
	if err != nil {
		return nil, err
	}
	return userOf(got), nil
}

func createRequest(nu shared.NewUser) api.UserCreateRequest {
	return api.UserCreateRequest{Username: nu.Username, Email: nu.Email, Password: nu.Password,
		ServicePassword: nu.ServicePassword, Roles: nu.Roles, Groups: nu.Groups, Active: nu.Active,
		MaxSpaces: nu.MaxSpaces, ComputeUnits: nu.ComputeUnits, StorageUnits: nu.StorageUnits, MaxTunnels: nu.MaxTunnels,
		SSHPublicKey: nu.SSHPublicKey, PreferredShell: nu.PreferredShell, Timezone: nu.Timezone}
}

// Update implements shared.UserService at the origin, and returns the user
// as the origin answers after the change, or as the replica holds them
// when it does not (a new password ends the API tokens of the user, unless
// KeepTokens, the one the change was made with among them). The origin
// keeps the
// session of the leaf's own login at the origin, not KeepSession, which
// names a session of the leaf.
func (s *UserService) Update(ctx context.Context, id string, upd shared.UserUpdate) (*shared.User, error) {
	req := api.UserUpdateRequest{Username: upd.Username, Email: upd.Email, Password: upd.Password,
		ServicePassword: upd.ServicePassword, Roles: upd.Roles, Groups: upd.Groups, Active: upd.Active,
		MaxSpaces: upd.MaxSpaces, ComputeUnits: upd.ComputeUnits, StorageUnits: upd.StorageUnits, MaxTunnels: upd.MaxTunnels,
		SSHPublicKey: upd.SSHPublicKey, PreferredShell: upd.PreferredShell, Timezone: upd.Timezone, KeepTokens: &upd.KeepTokens}
	if upd.CurrentPassword != "" {
		req.CurrentPassword = &upd.CurrentPassword
	}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.User, error) {
		if err := c.Users().Update(ctx, id, req); err != nil {
			return nil, err
		}
		got, err := c.Users().Get(ctx, id)
		if err != nil {
			return nil, nil // made: a new password may have ended the token it was made with
		}
		return got, nil
	})
	if err != nil {
		return nil, err
	}
	if got == nil {
		return s.known(ctx, id), nil
	}
	return userOf(got), nil
}

// Delete implements shared.UserService at the origin, which deletes the
// user's spaces through their leaves.
func (s *UserService) Delete(ctx context.Context, id string) (*shared.User, []*shared.Space, error) {
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.User, error) {
		got, err := c.Users().Get(ctx, id)
		if err != nil {
			return nil, err
		}
		return got, c.Users().Delete(ctx, id)
	})
	if err != nil {
		return nil, nil, err
	}
	return userOf(got), nil, nil
}

// known returns the user with id as the replica holds them, or with their
// id alone.
func (s *UserService) known(ctx context.Context, id string) *shared.User {
	u, err := storage.Get[shared.User](ctx, s.opts.Store, id)
	if err != nil {
		return &shared.User{Meta: shared.Meta{ID: id}}
	}
	return u
}

func userOf(u *api.User) *shared.User {
	return &shared.User{Meta: shared.Meta{ID: u.ID, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt},
		Username: u.Username, Email: u.Email, ServicePassword: u.ServicePassword, SSHPublicKey: u.SSHPublicKey,
		Roles: u.Roles, Groups: u.Groups, Active: u.Active,
		MaxSpaces: u.MaxSpaces, ComputeUnits: u.ComputeUnits, StorageUnits: u.StorageUnits, MaxTunnels: u.MaxTunnels,
		PreferredShell: u.PreferredShell, Timezone: u.Timezone}
}

// AddSSHKey implements shared.UserService at the origin. The user returned
// is the replica's, without the key until the feed brings it.
func (s *UserService) AddSSHKey(ctx context.Context, id, name, key string) (*shared.User, *shared.SSHKey, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	got, err := Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (*api.SSHKey, error) {
		return c.Users().AddSSHKey(ctx, id, api.SSHKeyAddRequest{Name: name, Key: key})
	})
	if err != nil {
		return nil, nil, err
	}
	return u, &shared.SSHKey{ID: got.ID, Name: got.Name, Key: got.Key, Fingerprint: got.Fingerprint, AddedAt: got.AddedAt}, nil
}

// RemoveSSHKey implements shared.UserService at the origin; the key
// returned is the replica's, or only its id when the replica has not got
// it yet.
func (s *UserService) RemoveSSHKey(ctx context.Context, id, keyID string) (*shared.User, *shared.SSHKey, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	_, err = Forward(ctx, s.opts.Origin, func(ctx context.Context, c *client.Client) (struct{}, error) {
		return struct{}{}, c.Users().RemoveSSHKey(ctx, id, keyID)
	})
	if err != nil {
		return nil, nil, err
	}
	gone := &shared.SSHKey{ID: keyID}
	for _, k := range u.SSHKeys {
		if k.ID == keyID || k.Fingerprint == keyID {
			gone = &k
		}
	}
	return u, gone, nil
}
