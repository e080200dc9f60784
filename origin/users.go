package origin

import (
	"context"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // user time zones are checked against the IANA database

	"github.com/knot-dev/knot/shared"
	"github.com/knot-dev/knot/shared/crypt"
	"github.com/knot-dev/knot/storage"
)

// SpaceDeleter deletes a space of a user being deleted, through the space
// service of its location, which frees what the space holds. A space
// already gone is no error.
type SpaceDeleter func(ctx context.Context, sp *shared.Space) error

// UserService is the origin's shared.UserService over its store.
type UserService struct {
	store       storage.Store
	opts        ServiceOptions
	deleteSpace SpaceDeleter

	orders shared.Orders[shared.UserListing]

	logins *Logins // bounds the checks of current passwords

	setupMu   sync.Mutex // serializes this process's first-user setups
	setupDone bool       // guarded by setupMu: a user exists
}

var _ shared.UserService = (*UserService)(nil)

// NewUserService returns the user service over store; deleteSpace deletes
// the spaces of a user being deleted (nil: their records, for a server that
// runs none).
func NewUserService(store storage.Store, opts ServiceOptions, deleteSpace SpaceDeleter) *UserService {
	if deleteSpace == nil {
		deleteSpace = func(ctx context.Context, sp *shared.Space) error {
			_, err := store.Delete(ctx, shared.KindSpace, sp.ID)
			return err
		}
	}
	return &UserService{store: store, opts: opts, deleteSpace: deleteSpace, logins: NewLogins(LoginsOptions{Now: opts.Now})}
}

func userNotFound(id string) func() error {
	return func() error { return shared.Errorf(shared.ENOTFOUND, "user %s not found", quote(id)) }
}

// List implements shared.UserService.
func (s *UserService) List(ctx context.Context, o shared.ListOptions) (shared.Page[shared.UserListing], error) {
	if err := shared.UserListAccess(ctx); err != nil {
		return shared.Page[shared.UserListing]{}, err
	}
	if s.opts.Records != nil {
		v, err := s.opts.Records(ctx)
		return shared.SelectUserListings(v, err, o, &s.orders)
	}
	return shared.SelectList(storage.ListUsers(ctx, s.store, o.State))(o, shared.SelectUsers)
}

// Get implements shared.UserService.
func (s *UserService) Get(ctx context.Context, id string) (*shared.User, error) {
	if _, err := shared.UserAccess(ctx, id); err != nil {
		return nil, err
	}
	return get[shared.User](ctx, s.store, id, userNotFound(id))
}

// Quota implements shared.UserService: every space of the store counts.
func (s *UserService) Quota(ctx context.Context, id string) (shared.Quota, error) {
	u, err := s.Get(ctx, id)
	if err != nil {
		return shared.Quota{}, err
	}
	return storage.QuotaOf(ctx, s.store, u, storage.QuotaScope{})
}

// errFirstUserTaken answers a setup that another one beat.
var errFirstUserTaken = shared.Errorf(shared.ECONFLICT, "another first user was created at the same time: log in as that user instead")

var errSetupDone = shared.Errorf(shared.EUNAUTHORIZED, "authentication required: log in, or send \"Authorization: Bearer <token>\"")

// NeedsSetup reports whether no user exists yet, so that Setup may create
// the first. Once a user exists it stays false without reading the store.
func (s *UserService) NeedsSetup(ctx context.Context) (bool, error) {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	return s.needsSetup(ctx)
}

// needsSetup is NeedsSetup with setupMu held.
func (s *UserService) needsSetup(ctx context.Context) (bool, error) {
	if !s.setupDone {
		users, err := s.store.List(ctx, shared.KindUser)
		if err != nil {
			return false, err
		}
		s.setupDone = len(users) > 0
	}
	return !s.setupDone, nil
}

// Setup implements shared.UserService. Whether a user exists and the write
// are one transaction: of several setups at once, on servers sharing one
// database, exactly one writes its user. A process runs its own setups one
// at a time, so that those that lose here are told to log in (401).
func (s *UserService) Setup(ctx context.Context, nu shared.NewUser) (*shared.User, error) {
	ctx = writeContext(ctx)
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if need, err := s.needsSetup(ctx); err != nil || !need {
		if err == nil {
			err = errSetupDone
		}
		return nil, err
	}
	admin, active := []string{shared.AdminRoleID}, true
	nu.Roles, nu.Active = &admin, &active
	u, err := s.newUser(ctx, s.store, nu)
	if err != nil {
		return nil, err
	}
	var taken bool
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		users, err := tx.List(ctx, shared.KindUser)
		if err != nil {
			return err
		}
		if taken = len(users) > 0; taken {
			return errFirstUserTaken
		}
		return tx.Put(ctx, u)
	})
	s.setupDone = taken || err == nil
	if taken {
		return nil, errFirstUserTaken
	}
	if err != nil {
		return nil, err
	}
	s.opts.recordAs(ctx, u, "User Create", "first user "+u.Username+" created as admin", map[string]string{"created_user_id": u.ID})
	return u, nil
}

// Create implements shared.UserService: the checks of the roles, groups and
// unique keys and the write are one transaction.
func (s *UserService) Create(ctx context.Context, nu shared.NewUser) (*shared.User, error) {
	a, err := shared.ActorRequired(ctx)
	if err != nil {
		return nil, err
	}
	if err := a.Needs(shared.PermManageUsers); err != nil {
		return nil, err
	}
	ctx = writeContext(ctx)
	u, err := s.newUser(ctx, s.store, nu)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx storage.Tx) error {
		if err := checkRefs(ctx, tx, u.Roles, u.Groups); err != nil {
			return err
		}
		if err := JudgeChange(ctx, a, Change{UserAfter: u}, RoleOf(tx)); err != nil {
			return err
		}
		return putUser(ctx, tx, u)
	})
	if err != nil {
		return nil, err
	}
	s.opts.record(ctx, "User Create", "user "+u.Username+" created", map[string]string{"created_user_id": u.ID})
	return u, nil
}

// newUser validates nu, checks its roles and groups in r and returns the
// user it describes, with its password hashed.
func (s *UserService) newUser(ctx context.Context, r storage.Reader, nu shared.NewUser) (*shared.User, error) {
	if err := checkName("username", nu.Username); err != nil {
		return nil, err
	}
	if err := checkEmail(nu.Email); err != nil {
		return nil, err
	}
	if err := checkPassword(nu.Password); err != nil {
		return nil, err
	}
	roles := []string{shared.UserRoleID}
	if nu.Roles != nil {
		roles = shared.Distinct(*nu.Roles)
	}
	groups := shared.Distinct(nu.Groups)
	if err := checkRefs(ctx, r, roles, groups); err != nil {
		return nil, err
	}
	if err := checkQuotas(nu.MaxSpaces, nu.ComputeUnits, nu.StorageUnits, nu.MaxTunnels); err != nil {
		return nil, err
	}
	if err := checkProfile(nu.SSHPublicKey, nu.PreferredShell, nu.Timezone); err != nil {
		return nil, err
	}
	sp := nu.ServicePassword
	if sp == "" {
		sp = crypt.GenerateKey()[:16]
	} else if err := shared.CheckText("service_password", sp, 255); err != nil {
		return nil, err
	}
	hash, err := crypt.HashPassword(nu.Password)
	if err != nil {
		return nil, invalid("password: %v", err)
	}
	now := s.opts.now()
	return &shared.User{
		Meta:     shared.Meta{ID: newID(), CreatedAt: now, UpdatedAt: now},
		Username: nu.Username, Email: nu.Email, PasswordHash: hash, ServicePassword: sp,
		SSHPublicKey: nu.SSHPublicKey, Roles: roles, Groups: groups,
		Active:    nu.Active == nil || *nu.Active,
		MaxSpaces: nu.MaxSpaces, ComputeUnits: nu.ComputeUnits, StorageUnits: nu.StorageUnits, MaxTunnels: nu.MaxTunnels,
		PreferredShell: nu.PreferredShell, Timezone: nu.Timezone,
	}, nil
}

// putUser writes u in tx, naming the clash when the email or username is
// another user's.
func putUser(ctx context.Context, tx storage.Tx, u *shared.User) error {
	if c, err := tx.Lookup(ctx, shared.KindUser, "email:"+strings.ToLower(u.Email)); err == nil && c.ID != u.ID {
		return shared.Errorf(shared.ECONFLICT, "a user with email %s already exists", quote(u.Email))
	} else if err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	if c, err := tx.Lookup(ctx, shared.KindUser, "username:"+strings.ToLower(u.Username)); err == nil && c.ID != u.ID {
		return shared.Errorf(shared.ECONFLICT, "a user named %s already exists", quote(u.Username))
	} else if err != nil && !isCode(err, shared.ENOTFOUND) {
		return err
	}
	err := tx.Put(ctx, u)
	if isCode(err, shared.ECONFLICT) {
		return shared.Errorf(shared.ECONFLICT, "a user with email %s or username %s already exists", quote(u.Email), quote(u.Username))
	}
	return err
}

func checkEmail(email string) error {
	if !shared.ValidEmail(email) {
		return invalid("email %s is not a valid email address", quote(email))
	}
	return nil
}

func checkPassword(pw string) error {
	if len(pw) < shared.MinPasswordLength {
		return invalid("password must be at least %d characters long", shared.MinPasswordLength)
	}
	if len(pw) > 72 {
		return invalid("password must be at most 72 bytes long")
	}
	return nil
}

func checkProfile(sshKey, shell, tz string) error {
	if err := shared.CheckText("ssh_public_key", sshKey, 16<<10); err != nil {
		return err
	}
	if shell != "" && !shared.ValidShell(shell) {
		return invalid("preferred_shell %s is not one of bash, zsh, fish, sh", quote(shell))
	}
	if tz != "" {
		if len(tz) > 64 {
			return invalid("timezone is longer than 64 bytes")
		}
		if _, err := time.LoadLocation(tz); err != nil {
			return invalid("timezone %s is not a known time zone (such as Europe/London)", quote(tz))
		}
	}
	return nil
}

// checkRefs fails when an id of roles names no role or one of groups no
// group in r.
func checkRefs(ctx context.Context, r storage.Reader, roles, groups []string) error {
	for _, id := range roles {
		if _, err := roleIn(ctx, r, id); isCode(err, shared.ENOTFOUND) {
			return invalid("roles: role %s does not exist", quote(id))
		} else if err != nil {
			return err
		}
	}
	for _, id := range groups {
		if _, err := r.Get(ctx, shared.KindGroup, id); isCode(err, shared.ENOTFOUND) {
			return invalid("groups: group %s does not exist", quote(id))
		} else if err != nil {
			return err
		}
	}
	return nil
}
