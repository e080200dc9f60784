package web

import (
	"net/http"

	"github.com/knot-dev/knot/shared/api"
)

// checkCurrentPassword requires, when p changes their own password or
// email (the user with id), their current password in the request's
// current_password. It is checked as a login is, under the same limits
// (the address of the request counts), so that a stolen session cannot take
// the account over nor guess its password quickly. A missing password is
// EINVALID, a wrong one EFORBIDDEN (not EUNAUTHORIZED: the session itself
// is fine).
func (s *Server) checkCurrentPassword(r *http.Request, p *principal, id string, req *api.UserUpdateRequest) error {
	cur := p.user
	if id != cur.ID {
		return nil
	}
	changesEmail := req.Email != nil && *req.Email != cur.Email
	if req.Password == nil && !changesEmail {
		return nil
	}
	if req.CurrentPassword == nil || *req.CurrentPassword == "" {
		return invalid("current_password is required to change your own password or email")
	}
	if cur.PasswordHash == "" {
		return forbidden("your account has no password here: change it at the origin")
	}
	attempt, err := s.beginPasswordCheck(r, cur.Email)
	if err != nil {
		return err
	}
	defer attempt.End()
	if len(*req.CurrentPassword) > 1024 || !attempt.Check(cur.PasswordHash, *req.CurrentPassword) {
		s.audit(r, p, "User Update Refused", "wrong current password for a change of "+cur.Username+"'s password or email", map[string]string{"updated_user_id": cur.ID})
		return forbidden("current_password is not your password")
	}
	attempt.Succeed()
	return nil
}
