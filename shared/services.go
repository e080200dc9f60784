package shared

// Services are the services one server's HTTP handlers call (package web):
// an origin's or a standalone server's from package origin
// (origin.NewServices), a leaf's from package leaf (leaf.NewServices),
// which read the replica and forward writes to the origin. The space
// service is not among them: it is package leaf's on every server.
//
// The services record the audit event of each write of origin-owned data
// they make, naming the actor and the caller of the context
// (NewContextWithActor, NewContextWithCaller): the origin's services
// record a write a leaf forwards, and the leaf does not.
type Services struct {
	Users     UserService
	Tokens    TokenService
	Auth      AuthService
	Groups    GroupService
	Roles     RoleService
	Templates TemplateService
	Variables VariableService
	Audit     AuditService
	Fleet     FleetService
}
